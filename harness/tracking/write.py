"""MLflow tracking, the write side (only harness/tracking/ imports MLflow).

Writing: one experiment per config `name`, a parent run per variant study, a child run per trial
and per confirmation run. Metrics are buffered in memory and written with `log_batch` in chunks,
so a training step never waits for the tracking database.
Reading (for the report) lives in `harness.tracking.read`, which imports neither the trainer nor
Optuna; its functions are re-exported here.
"""

from __future__ import annotations

import functools
import logging
import os
import platform
import re
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness import __version__
from harness.stores import keys
from harness.core.errors import ServiceLost, UserError, first_line
from harness.models import parameter_count
from harness.stores.retry import RetryPolicy, call_with_retries
from harness.stores.scheduler import scheduler_tags
from harness.tracking.resume import (commit_resume_checkpoint, flush_artifacts, resume_point_of, start_system_metrics,
                                     tracking_retry)
from harness.stores.urls import redact, sqlite_path
from harness.train.trainer import TrainCallback, TrainState
from harness.train.visualize import PREVIEW_IMAGES, preview_picture
from harness.tracking.read import (DEFAULT_CONNECT_TIMEOUT_S, PAGE_SIZE, RUN_COLUMNS, cached_client,  # noqa: F401
                                   client, database_problem, download_artifact, environment_problem, experiment_id,
                                   load_runs, metric_history, mlflow_signature, no_progress_bar, run_record, run_url,
                                   server_problem, tracking_problem)

# MLflow configures its loggers when imported, from this variable: no "creating tables" chatter.
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
# MLflow's own HTTP retries wait silently for minutes (7 tries, doubling from 2 s) when a server is
# gone; the harness retries instead, bounded and visibly (`tracking.retries`, harness/stores/retry.py).
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")

# MLflow logs every failed database call and every failed asynchronous batch at ERROR, with the whole
# chained traceback (26 of them when runs/ turns read-only mid-sweep). The harness retries those calls
# and reports each attempt in one line naming the root cause (harness/stores/retry.py): only CRITICAL passes.
for _logger in ("mlflow.store.db.utils", "mlflow.utils.async_logging.async_logging_queue"):
    logging.getLogger(_logger).setLevel(logging.CRITICAL)

MLFLOW_RUN_NOTE = "mlflow.note.content"  # a run's description, on its Overview (the page a run opens on)
SAMPLES_FILE, PREVIEW_FILE = "samples.png", "samples_preview.png"  # the last picture, full size and preview
MAX_METRICS_PER_BATCH = 1000  # MLflow's log_batch limit
MAX_PARAMS_PER_BATCH = 100
FLUSH_SECONDS = 15.0
# MLflow 3 labels each experiment with a kind (GenAI or model training) in its UI's kind selector;
# these are training runs. The UI's GenAI / Model training switch at the top left is still the
# user's to flip (checked in a browser: the tag alone does not change the page an experiment opens on).
EXPERIMENT_TAGS = {"mlflow.experimentKind": "custom_model_development"}


def check_reachable(uri: str, timeout_s: int = DEFAULT_CONNECT_TIMEOUT_S) -> None:
    """Fail fast with one line when an MLFLOW_* setting is bad or the tracking service does not answer as
    MLflow, before anything is written.

    A database's tables (and a SQLite store's file and folder) are checked by the sweep's preflight, under
    the sweep's init lock: a sweep starting beside this one may be creating them at this moment.
    """
    if problem := environment_problem():
        raise UserError(problem)
    if uri.startswith(("http://", "https://")):
        problem = server_problem(uri, timeout_s)
    elif uri.startswith("postgresql"):
        problem = database_problem(uri, timeout_s)
    if problem:
        raise UserError(f"tracking.uri: {problem}")


def make_sqlite_folder(uri: str) -> None:
    """The folder of a SQLite tracking store (SQLite creates the file, not its folder)."""
    path = sqlite_path(uri)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"tracking.uri: cannot create the folder of {redact(uri)} "
                        f"({exc.strerror or type(exc).__name__})") from None


def artifact_location(uri: str, experiment: str) -> str | None:
    """Artifacts of a local SQLite store go beside the database (not into the working directory)."""
    if sqlite_path(uri) is None:
        return None  # a server decides (served artifacts)
    db = sqlite_path(uri).resolve()
    return (db.parent / "mlartifacts" / experiment).as_uri()


def ensure_experiment(uri: str, name: str) -> str:
    """The experiment's id, creating it if needed (tolerates a concurrent creator)."""
    from mlflow.exceptions import MlflowException

    check_reachable(uri)
    make_sqlite_folder(uri)
    mlflow_client = client(uri)
    try:
        found = mlflow_client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        return mlflow_client.create_experiment(name, artifact_location=artifact_location(uri, name),
                                               tags=EXPERIMENT_TAGS)
    except MlflowException as exc:
        try:
            found = mlflow_client.get_experiment_by_name(name)
        except MlflowException:
            found = None
        if found is not None:  # another process created it first
            return found.experiment_id
        raise UserError(f"tracking.uri: MLflow at {redact(uri)} refused: {first_line(exc)}") from None


def ensure_parent_run(uri: str, experiment_id: str, study_name: str, variant: str, tags: dict[str, str]) -> str:
    """The variant study's parent run id, named after the variant; created once (callers hold the sweep's
    init lock).

    The sweep's parents carry no variant tag (`harness.variant`, only in `tags` if given): MLflow's runs
    table adds the parent of every run its search finds, and *Group by* that tag would count the parent
    among its variant's seeds (2 seeds read "3"). An existing parent with a variant tag its caller does
    not pass, as sweeps wrote them before, loses it.
    """
    mlflow_client = client(uri)
    query = f"tags.`{keys.tag(keys.STUDY)}` = '{study_name}' and tags.`{keys.tag(keys.ROLE)}` = '{keys.ROLE_STUDY}'"
    existing = mlflow_client.search_runs([experiment_id], filter_string=query, max_results=1)
    if existing:
        if keys.tag(keys.VARIANT) in existing[0].data.tags and keys.VARIANT not in tags:
            mlflow_client.delete_tag(existing[0].info.run_id, keys.tag(keys.VARIANT))
        return existing[0].info.run_id
    all_tags = {**base_tags(), **keys.tags({**tags, keys.STUDY: study_name, keys.ROLE: keys.ROLE_STUDY})}
    run = mlflow_client.create_run(experiment_id, tags=all_tags, run_name=variant)
    return run.info.run_id


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def base_tags() -> dict[str, str]:
    """Provenance on every run: code version, package versions and, in a Slurm job, the job (array task)
    and node it ran on (harness.slurm_job_id, harness.slurm_node)."""
    import mlflow
    import optuna

    versions = (f"harness={__version__} torch={torch.__version__} optuna={optuna.__version__} "
                f"mlflow={mlflow.__version__} python={platform.python_version()}")
    tags = keys.tags({keys.VERSIONS: versions, **scheduler_tags(os.environ)})
    commit = git_commit()
    if commit:
        tags["mlflow.source.git.commit"] = commit
        tags[keys.tag(keys.GIT_COMMIT)] = commit
    return tags


class RunLogger(TrainCallback):
    """One MLflow child run: buffered metrics, sample grids by step, checkpoints, final samples.

    Metrics and images go through MLflow's asynchronous logging, so a slow or distant server never
    blocks a training step. The batches are awaited at evaluations, checkpoints and the end of the
    run ("settled"); a batch that failed is re-sent with bounded, visible retries (`retry`).
    """

    def __init__(self, uri: str, experiment_id: str, parent_run_id: str, run_name: str,
                 tags: dict[str, Any], params: dict[str, Any], retry: RetryPolicy | None = None,
                 system_metrics: bool = False, run_id: str | None = None) -> None:
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

        self.client = client(uri)
        self.retry = retry or tracking_retry(uri)
        self.buffer: list[Any] = []
        self.pending: list[tuple[Any, list[Any]]] = []  # (async operation, its metrics) not yet awaited
        self.last_flush = time.monotonic()
        self.committed_slot: str | None = None  # the resume checkpoint's artifact path, once there is one
        self.run_name = run_name  # "" for a reopened run: read back when needed
        # The newest sample picture, its samples and step: samples.png and the run's description at the end.
        self.last_picture: tuple[int, np.ndarray, torch.Tensor | None] | None = None
        if run_id is None:
            all_tags = {**base_tags(), **keys.tags(tags), MLFLOW_PARENT_RUN_ID: parent_run_id}
            run_id = self.call(self.client.create_run, experiment_id, tags=all_tags, run_name=run_name).info.run_id
        self.run_id = run_id
        self.log_params(params)
        self.monitor = start_system_metrics(uri, run_id) if system_metrics else None

    @classmethod
    def reopen(cls, uri: str, run_id: str, slot: str, step: int, retry: RetryPolicy | None = None,
               system_metrics: bool = False) -> "RunLogger":
        """Continue an existing run (a trial resumed from its checkpoint): its curves go on from `step`."""
        logger = cls(uri, "", "", "", {}, {}, retry, system_metrics, run_id=run_id)
        logger.committed_slot = slot
        logger.call(logger.client.update_run, run_id, status="RUNNING")
        # A trial resumed in another allocation names the job and node it runs on now.
        logger.set_tags({keys.RESUMED_AT_STEP: step, keys.OUTCOME: "running", keys.REASON: "",
                         **scheduler_tags(os.environ)})
        return logger

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return call_with_retries(self.retry, fn, *args, **kwargs)

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)[:6000]) for k, v in sorted(params.items())]
        for i in range(0, len(items), MAX_PARAMS_PER_BATCH):
            self.call(self.client.log_batch, self.run_id, params=items[i : i + MAX_PARAMS_PER_BATCH])

    def log_text(self, text: str, artifact_file: str) -> None:
        """A small text artifact, written at once (e.g. the run's resolved config, config.yaml)."""
        self.call(self.client.log_text, self.run_id, text, artifact_file)

    def log_metrics(self, step: int, values: dict[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.buffer.extend(Metric(k, float(v), now, step) for k, v in values.items())
        if len(self.buffer) >= MAX_METRICS_PER_BATCH or time.monotonic() - self.last_flush > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Hand the buffered metrics to MLflow's background writer; returns at once."""
        for i in range(0, len(self.buffer), MAX_METRICS_PER_BATCH):
            chunk = self.buffer[i : i + MAX_METRICS_PER_BATCH]
            self.pending.append((self.client.log_batch(self.run_id, metrics=chunk, synchronous=False), chunk))
        self.buffer = []
        self.last_flush = time.monotonic()

    def settle(self) -> None:
        """Wait for every asynchronous batch; re-send the failed ones (ServiceLost when retries run out)."""
        self.flush()
        pending, self.pending = self.pending, []
        for operation, metrics in pending:
            try:
                operation.wait()
            except Exception as exc:  # noqa: BLE001 - re-sent below; a non-transient error re-raises there
                if not self.retry.transient(exc):
                    raise
                self.call(self.client.log_batch, self.run_id, metrics=metrics)

    def on_start(self, state: TrainState, eval_info: dict[str, float | str]) -> None:
        self.log_params({**{keys.EVAL_INFO_PREFIX + k: v for k, v in eval_info.items()},
                         keys.GENERATOR_PARAMS: parameter_count(state.G), keys.CRITIC_PARAMS: parameter_count(state.D)})

    def on_log(self, step: int, scalars: dict[str, float]) -> None:
        self.log_metrics(step, scalars)

    def on_eval(self, step: int, metrics: dict[str, float]) -> None:
        self.log_metrics(step, metrics)
        self.settle()  # evaluations are rare and are what people watch; a dead server shows up here

    def on_samples(self, step: int, image: np.ndarray, samples: torch.Tensor) -> None:
        self.client.log_image(self.run_id, image, key="samples", step=step, synchronous=False)
        self.last_picture = (step, image, None if samples is None else samples[:PREVIEW_IMAGES].detach())

    def on_checkpoint(self, state: TrainState) -> None:
        from harness.train.checkpoint import save_checkpoint

        if state.step < state.cfg.train.steps:
            self.settle()  # the curves up to the checkpoint are stored before it becomes the resume point
            commit_resume_checkpoint(self, state)
            return
        from harness.train.trainer import final_samples

        with tempfile.TemporaryDirectory() as tmp:
            save_checkpoint(state, Path(tmp) / "checkpoint.pt")
            torch.save(final_samples(state).cpu(), Path(tmp) / "samples.pt")
            self.call(self.client.log_artifacts, self.run_id, tmp)

    def show_last_picture(self) -> None:
        """The last sample picture on the run's Overview, the page MLflow opens a run on.

        MLflow 3's `samples` card (Model metrics) prints every param of the run between its name and the
        picture, and keeps its "Show run parameters" switch in the browser only: with the recipe's ~25
        params the picture is pushed out of the card. So the run's description (`mlflow.note.content`)
        shows it instead, captioned with the run's identity only: a preview (PREVIEW_PIXELS tall, whole in
        a description that MLflow folds to 100 px) linked to the full picture, `samples.png`; images/ keeps
        every picture by step for the card's slider.
        """
        if self.last_picture is None:
            return
        from PIL import Image

        step, picture, samples = self.last_picture
        with tempfile.TemporaryDirectory() as tmp:
            Image.fromarray(picture).save(Path(tmp) / SAMPLES_FILE)
            Image.fromarray(preview_picture(picture, None if samples is None else samples.cpu())).save(
                Path(tmp) / PREVIEW_FILE)
            self.call(self.client.log_artifacts, self.run_id, tmp)
        name = self.run_name or self.call(self.client.get_run, self.run_id).info.run_name
        self.call(self.client.set_tag, self.run_id, MLFLOW_RUN_NOTE, picture_note(self.run_id, name, step))

    def set_tags(self, tags: dict[str, Any]) -> None:
        from mlflow.entities import RunTag

        self.call(self.client.log_batch, self.run_id, tags=[RunTag(k, v) for k, v in keys.tags(tags).items()])

    def finish(self, status: str, tags: dict[str, Any] | None = None) -> None:
        """Write what is buffered and close the run: FINISHED, FAILED or KILLED."""
        self.settle()
        self.call(flush_artifacts, self.client, self.run_id)
        self.show_last_picture()
        if self.monitor is not None:
            self.monitor.finish()
        if tags:
            self.set_tags(tags)
        self.call(self.client.set_terminated, self.run_id, status=status)

    def abandon(self, tags: dict[str, Any]) -> None:
        """Close the run as KILLED, once, without retries: the service may be the thing that is gone."""
        if self.monitor is not None:
            self.monitor.finish()
        from mlflow.entities import RunTag

        try:
            self.client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in keys.tags(tags).items()])
            self.client.set_terminated(self.run_id, status="KILLED")
        except Exception:  # noqa: BLE001 - the heartbeat of the next run closes it instead
            pass


def picture_note(run_id: str, run_name: str, step: int) -> str:
    """A run's description (markdown): its name and the step, then the preview, linked to the full picture.

    The links are the UI's own (`get-artifact?path=…&run_uuid=…`, relative, so they work under any host
    and path prefix, for local and served artifacts alike)."""
    def url(path: str) -> str:
        return f"get-artifact?path={path}&run_uuid={run_id}"

    shown = re.sub(r"([\\`*_\[\]<>])", r"\\\1", run_name)  # markdown's own characters, shown as typed
    preview = f"![samples at step {step}]({url(PREVIEW_FILE)})"
    return f"**{shown}** · samples at step {step} [{preview}]({url(SAMPLES_FILE)})"


def resume_point(uri: str, run_id: str) -> tuple[str, int] | None:
    """(artifact path, step) of the run's last mid-trial checkpoint; None when it has none or is gone."""
    try:
        return resume_point_of(client(uri).get_run(run_id))
    except Exception:  # noqa: BLE001 - a deleted or never-created run: the trial starts afresh
        return None


def download_checkpoint(uri: str, run_id: str, artifact: str, dst: Path, retry: RetryPolicy) -> Path:
    """A resume checkpoint downloaded under `dst`; UserError naming the artifact when it is gone or empty.

    Looked up in the run's listing first: a deleted file is then told apart from a service that is gone
    (which the retries report as ServiceLost), whatever error the artifact store would give for it.
    """
    folder = artifact.rpartition("/")[0] or None
    listed = {f.path: f.file_size for f in call_with_retries(retry, client(uri).list_artifacts, run_id, folder)}
    if artifact not in listed:
        raise UserError(f"artifact {artifact} is missing")
    if listed[artifact] == 0:
        raise UserError(f"artifact {artifact} is empty (0 bytes)")
    try:
        with no_progress_bar():
            return Path(call_with_retries(retry, client(uri).download_artifacts, run_id, artifact, str(dst)))
    except ServiceLost:
        raise
    except Exception as exc:  # noqa: BLE001 - listed a moment ago, refused now: not resumable either way
        raise UserError(f"artifact {artifact} cannot be downloaded ({first_line(exc)})") from None


def mark_run_killed(uri: str, run_id: str, reason: str) -> None:
    """Close the MLflow run of a trial that died (kill -9, lost machine) and was re-queued."""
    mlflow_client = client(uri)
    try:
        run = mlflow_client.get_run(run_id)
    except Exception:  # noqa: BLE001 - the run may never have been created
        return
    if run.info.status == "RUNNING":
        mlflow_client.set_tag(run_id, keys.tag(keys.OUTCOME), "killed")
        mlflow_client.set_tag(run_id, keys.tag(keys.REASON), reason)
        mlflow_client.set_terminated(run_id, status="KILLED")


def set_run_status(uri: str, run_id: str, status: str) -> None:
    """Parent runs read RUNNING while their study has work left, FINISHED once it is settled.

    A finished or killed parent is terminated, not only relabelled: that sets its end time, and the
    runs table's Duration column with it."""
    if status == "RUNNING":
        client(uri).update_run(run_id, status=status)
    else:
        client(uri).set_terminated(run_id, status=status)


def log_summary(uri: str, run_id: str, metrics: dict[str, float], tags: dict[str, Any],
                confirm_run_ids: Sequence[str] = ()) -> None:
    """A parent run's summary over its confirmation seeds: metrics at step 0 and tags such as the rank and
    the convergence status. The same metrics go on each of those seeds' runs (`confirm_run_ids`): MLflow's
    runs table, grouped by `harness.variant`, then sorts the groups by them and its chart view draws them as
    one bar per variant, and a search for the confirmation runs still finds them (MLflow drops the
    parents of what it found as soon as the table is sorted by a metric)."""
    from mlflow.entities import Metric, RunTag

    now = int(time.time() * 1000)
    values = [Metric(k, float(v), now, 0) for k, v in sorted(metrics.items())]
    mlflow_client = client(uri)
    mlflow_client.log_batch(run_id, metrics=values, tags=[RunTag(k, v) for k, v in keys.tags(tags).items()])
    for confirm_run_id in confirm_run_ids:
        mlflow_client.log_batch(confirm_run_id, metrics=values)


def ensure_reference_run(uri: str, experiment_id: str, data_name: str, picture: np.ndarray) -> str:
    """The experiment's one run that shows the real data (callers hold the sweep's init lock).

    Its image `real_data` is what every run's `samples` should come to look like; it is logged once
    per experiment, not with every trial."""
    mlflow_client = client(uri)
    query = f"tags.`{keys.tag(keys.ROLE)}` = '{keys.ROLE_REFERENCE}'"
    existing = mlflow_client.search_runs([experiment_id], filter_string=query, max_results=1)
    if existing:
        return existing[0].info.run_id
    run_id = mlflow_client.create_run(experiment_id, run_name=f"real data · {data_name}", tags={
        **base_tags(), **keys.tags({keys.ROLE: keys.ROLE_REFERENCE})}).info.run_id
    mlflow_client.log_image(run_id, picture, key="real_data", step=0)
    mlflow_client.set_terminated(run_id, status="FINISHED")
    return run_id
