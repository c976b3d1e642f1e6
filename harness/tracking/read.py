"""The read side of the MLflow tracking store, for the report: it imports neither the trainer nor Optuna.

Every reader degrades to "nothing there" rather than failing, so the report stays useful from the
Optuna storage alone and says what the tracking store lacked. `harness.tracking.write` (the write side)
re-exports these names.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.stores import keys
from harness.core.errors import first_line
from harness.stores.urls import (absolute_sqlite, redact, sqlalchemy_url, sqlite_file_problem, sqlite_path,
                                 with_connect_timeout)

if TYPE_CHECKING:
    import pandas as pd

# MLflow configures its loggers when imported, from this variable: no "creating tables" chatter.
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")

def client(uri: str) -> Any:
    """The MlflowClient for `uri`, one per store (a relative SQLite path counts from the current folder)."""
    return cached_client(absolute_sqlite(uri))


@functools.lru_cache(maxsize=4)
def cached_client(uri: str) -> Any:
    from mlflow import MlflowClient

    # MLflow builds its own engine from the URL: the connect timeout rides in it (libpq waits forever).
    return MlflowClient(tracking_uri=with_connect_timeout(sqlalchemy_url(uri), DEFAULT_CONNECT_TIMEOUT_S))


API_PROBE = "/api/2.0/mlflow/experiments/search?max_results=1"  # any MLflow server answers it with JSON
DEFAULT_CONNECT_TIMEOUT_S = 10  # tracking.connect_timeout_seconds's default


def server_problem(uri: str, timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S) -> str | None:
    """Why an MLflow server at `uri` cannot serve the API (one line), or None.

    Only an MLflow answer counts: a JSON object from its REST API. Not /health alone, which skips
    MLflow 3's Host-header check (a healthy server can still answer every API call with 403), and not
    any HTTP reply (a plain web server answers 404).
    """
    base = uri.rstrip("/")
    try:
        for path in ("/health", API_PROBE):
            request = urllib.request.Request(base + path, headers=auth_headers())
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                body = response.read(1 << 20)
        if not is_json_object(body):
            return (f"{redact(uri)} answered GET {API_PROBE} without MLflow's JSON ({body[:40]!r}); is it an "
                    "MLflow tracking server?")
    except urllib.error.HTTPError as exc:
        return http_problem(uri, exc)
    except (urllib.error.URLError, OSError, ValueError) as exc:  # refused, timed out, TLS, a bad URL
        return f"cannot reach MLflow at {redact(uri)} ({getattr(exc, 'reason', None) or exc})"
    return None


def http_problem(uri: str, exc: urllib.error.HTTPError) -> str:
    """One line for an HTTP error status from what should be an MLflow server."""
    where = f"{redact(uri)} answered {exc.code} {exc.reason} to GET {urllib.parse.urlsplit(exc.url).path}"
    if exc.code == 403 and b"Host header" in exc.read():
        host = urllib.parse.urlsplit(uri).netloc
        return (f"MLflow at {redact(uri)} refuses the Host header {host!r} (403); add it to the "
                "server's --allowed-hosts")
    if exc.code in (401, 403):
        return (f"{where}: set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) "
                "to credentials it accepts")
    return f"{where}; is it an MLflow tracking server (mlflow server), and is the URL its root?"


def auth_headers() -> dict[str, str]:
    """The credentials MLflow's own client would send, from the same variables."""
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if user and password:
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
    return {}


def is_json_object(body: bytes) -> bool:
    try:
        return isinstance(json.loads(body), dict)
    except ValueError:
        return False


def database_problem(uri: str, timeout_s: int = DEFAULT_CONNECT_TIMEOUT_S) -> str | None:
    """Why a database tracking URI cannot be opened (one line), or None; MLflow itself retries ~100 s."""
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    try:
        engine = sqlalchemy.create_engine(sqlalchemy_url(uri), poolclass=NullPool,
                                          connect_args={"connect_timeout": timeout_s})
        with engine.connect():
            pass
    except Exception as exc:  # noqa: BLE001 - driver errors of every kind
        return f"cannot connect to {redact(uri)} ({first_line(exc)})"
    return None


RUN_COLUMNS = ["run_id", "run_name", "status", *keys.REPORTED_TAGS, "parent_run_id", "start_ms", "end_ms",
               "classifier_test_accuracy", "classifier_min_accuracy", "arch", "generator_params", "critic_params",
               "protocols"]
PAGE_SIZE = 1000


def tracking_problem(uri: str, timeout_s: float = 5.0) -> str | None:
    """Why the tracking store cannot be read (one line), or None when it can."""
    path = sqlite_path(uri)
    if path is not None:
        if not path.is_file():
            return f"no MLflow database at {redact(uri)}"
        problem = sqlite_file_problem(path)
        return None if problem is None else f"{redact(uri)} {problem}"
    if uri.startswith(("http://", "https://")):
        return server_problem(uri, timeout_s)
    return None


def experiment_id(uri: str, name: str) -> str | None:
    found = client(uri).get_experiment_by_name(name)
    return None if found is None else found.experiment_id


def load_runs(uri: str, experiment: str) -> "pd.DataFrame":
    """One row per run of the experiment (parents and trials, deleted ones included), sorted by name."""
    import pandas as pd
    from mlflow.entities import ViewType

    exp_id = experiment_id(uri, experiment)
    rows: list[dict[str, Any]] = []
    token = None
    while exp_id is not None:
        page = client(uri).search_runs([exp_id], run_view_type=ViewType.ALL, max_results=PAGE_SIZE,
                                       page_token=token)
        rows += [run_record(run) for run in page]
        token = page.token
        if not token:
            break
    frame = pd.DataFrame(rows, columns=RUN_COLUMNS)
    return frame.sort_values(["run_name", "start_ms", "run_id"], ignore_index=True)


def run_record(run: Any) -> dict[str, Any]:
    tags = run.data.tags
    record = {key: tags.get(keys.tag(key)) for key in keys.REPORTED_TAGS}
    record.update(run_id=run.info.run_id, run_name=run.info.run_name, status=run.info.status,
                  parent_run_id=tags.get("mlflow.parentRunId"), start_ms=run.info.start_time,
                  end_ms=run.info.end_time)
    params = run.data.params
    # The evaluation classifier's accuracy and threshold, logged by on_start as eval_info.* params.
    record.update({key: params.get(keys.EVAL_INFO_PREFIX + key)
                   for key in ("classifier_test_accuracy", "classifier_min_accuracy")})
    record.update(arch=params.get("model.arch"), generator_params=params.get(keys.GENERATOR_PARAMS),
                  critic_params=params.get(keys.CRITIC_PARAMS), protocols=protocols_of(params))
    return record


def protocols_of(params: dict[str, str]) -> str | None:
    """The run's metric protocols as 'metric: how' lines, from its eval_info.protocol.<metric> params."""
    prefix = keys.EVAL_INFO_PREFIX + keys.PROTOCOL_PREFIX
    found = sorted((key[len(prefix):], value) for key, value in params.items() if key.startswith(prefix))
    return "\n".join(f"{metric}: {how}" for metric, how in found) or None


def metric_history(uri: str, run_id: str, keys: list[str]) -> "pd.DataFrame":
    """Long frame (key, step, value) of the logged metrics `keys` of one run, sorted; empty if the run is gone."""
    import pandas as pd
    from mlflow.exceptions import MlflowException

    try:
        rows = [(key, m.step, m.timestamp, m.value) for key in keys
                for m in client(uri).get_metric_history(run_id, key)]
    except MlflowException:  # e.g. a run deleted by hand (`mlflow gc`) while its trial stays in Optuna
        rows = []
    frame = pd.DataFrame(rows, columns=["key", "step", "timestamp", "value"]).sort_values(["key", "step", "timestamp"])
    # A resumed trial trains the steps after its checkpoint again: the later value of a step is the one kept.
    frame = frame.drop_duplicates(["key", "step"], keep="last")
    return frame.drop(columns="timestamp").reset_index(drop=True)


@contextmanager
def no_progress_bar() -> Iterator[None]:
    """MLflow draws a download progress bar even off a terminal; the report's output stays one line."""
    name = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    previous = os.environ.get(name)
    os.environ[name] = "false"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def download_artifact(uri: str, run_id: str, path: str, dst: Path) -> Path | None:
    """The artifact file downloaded under `dst`, or None when the run has no such artifact."""
    try:
        with no_progress_bar():
            return Path(client(uri).download_artifacts(run_id, path, str(dst)))
    except Exception:  # noqa: BLE001 - missing artifact, deleted run, unreachable artifact store
        return None


def run_url(uri: str, exp_id: str | None, run_id: str) -> str | None:
    """A link to the run in the MLflow UI when the store is a server; None for a local database."""
    if exp_id is None or not uri.startswith(("http://", "https://")):
        return None
    return f"{redact(uri).rstrip('/')}/#/experiments/{exp_id}/runs/{run_id}"
