"""MLflow side of resumable trials: mid-trial checkpoints as artifacts, retries, system metrics.

A trial's mid-run checkpoints alternate between two artifact slots of its run; the run's tag
`harness.checkpoint` names the slot whose upload completed last. The tag is the commit: a worker
killed mid-upload tears only the other slot, and the tag still names a whole checkpoint. Only
harness/tracking/ imports MLflow.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from harness.stores import keys
from harness.stores.retry import RetryPolicy
from harness.tracking.read import DEFAULT_CONNECT_TIMEOUT_S
from harness.train.trainer import TrainState
from harness.stores.urls import absolute_sqlite, sqlalchemy_url, with_connect_timeout

SLOTS = ("checkpoint-a.pt", "checkpoint-b.pt")
SLOT_FOLDER = "resume"
CHECKPOINT_TAG, STEP_TAG = keys.tag(keys.CHECKPOINT), keys.tag(keys.CHECKPOINT_STEP)
TRANSIENT_CODES = ("INTERNAL_ERROR", "TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED")


def transient_error(exc: BaseException) -> bool:
    """A failure that another try may not see: the server or database unreachable or overloaded."""
    from mlflow.exceptions import MlflowException

    if isinstance(exc, MlflowException):
        return exc.error_code in TRANSIENT_CODES
    return isinstance(exc, OSError) or type(exc).__module__.split(".")[0] in ("requests", "urllib3", "sqlalchemy")


def tracking_retry(uri: str, attempts: int = 6, backoff_seconds: float = 2.0) -> RetryPolicy:
    service = "the tracking server" if uri.startswith(("http://", "https://")) else "the tracking database"
    return RetryPolicy(service, uri, attempts, backoff_seconds, transient_error)


def next_slot(committed: str | None) -> str:
    """The slot that does not hold the committed checkpoint."""
    return SLOTS[1] if committed == f"{SLOT_FOLDER}/{SLOTS[0]}" else SLOTS[0]


def commit_resume_checkpoint(logger: Any, state: TrainState) -> None:
    """Upload the state to the free slot, then point the run's tag at it (a RunLogger's `on_checkpoint`)."""
    from mlflow.entities import RunTag

    from harness.train.checkpoint import save_checkpoint

    slot = next_slot(logger.committed_slot)
    with tempfile.TemporaryDirectory() as tmp:
        save_checkpoint(state, Path(tmp) / slot)
        logger.call(logger.client.log_artifact, logger.run_id, str(Path(tmp) / slot), SLOT_FOLDER)
    logger.committed_slot = f"{SLOT_FOLDER}/{slot}"
    logger.call(logger.client.log_batch, logger.run_id,
                tags=[RunTag(CHECKPOINT_TAG, logger.committed_slot), RunTag(STEP_TAG, str(state.step))])


def resume_point_of(run: Any) -> tuple[str, int] | None:
    """(artifact path, step) of the run's last committed checkpoint, or None."""
    tags = run.data.tags
    if CHECKPOINT_TAG not in tags or STEP_TAG not in tags:
        return None
    return tags[CHECKPOINT_TAG], int(tags[STEP_TAG])


def flush_artifacts(mlflow_client: Any, run_id: str) -> None:
    """Wait for the run's asynchronous image uploads. `mlflow.flush_artifact_async_logging()` would
    start a fluent run of its own; this is the call it makes, for our run."""
    mlflow_client._tracking_client._get_artifact_repo(run_id).flush_async_logging()


def start_system_metrics(uri: str, run_id: str) -> Any:
    """MLflow's own CPU/GPU/disk monitor for the run, when the [system] extra (psutil) is installed."""
    try:
        import psutil  # noqa: F401 - only whether it is installed
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor
    except ImportError:
        return None
    monitor = SystemMetricsMonitor(run_id, resume_logging=True, tracking_uri=with_connect_timeout(
        sqlalchemy_url(absolute_sqlite(uri)), DEFAULT_CONNECT_TIMEOUT_S))  # as harness.tracking.read.client's
    monitor.start()
    return monitor
