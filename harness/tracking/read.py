"""The read side of the MLflow tracking store, for the report: it imports neither the trainer nor Optuna.

Every reader degrades to "nothing there" rather than failing, so the report stays useful from the
Optuna storage alone and says what the tracking store lacked. Only a store that answers as something
other than this MLflow's (another application's database, part of MLflow's tables, another schema
version, a server that is not MLflow) and a bad MLFLOW_* setting are refused: MLflow would write its
tables into such a database, or fail deep inside. `harness.tracking.write` (the write side) re-exports
these names.
"""

from __future__ import annotations

import base64
import functools
import http.client
import json
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from harness.stores import keys
from harness.core.environment import environment
from harness.core.errors import UserError, first_line
from harness.stores.schema import ALEMBIC, Signature, alembic_version, check_schema
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


# Any MLflow server answers this with its JSON: 404 RESOURCE_DOES_NOT_EXIST (or the experiment, should one bear
# the name). A server that answers everything with `200 {}` does not.
API_PROBE = "/api/2.0/mlflow/experiments/get-by-name?experiment_name=gan-ablation-harness%20reachability%20probe"
DEFAULT_CONNECT_TIMEOUT_S = 10  # tracking.connect_timeout_seconds's default
T = TypeVar("T")


class NotMlflow(Exception):
    """Something answers at the tracking URI, but not as an MLflow server does."""


def server_problem(uri: str, timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S) -> str | None:
    """Why an MLflow server at `uri` cannot serve the API (one line), or None."""
    try:
        return unreachable_server(uri, timeout_s)
    except NotMlflow as exc:
        return str(exc)


def unreachable_server(uri: str, timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S) -> str | None:
    """Why the server cannot be reached (one line), or None; raises NotMlflow when it answers, but not as MLflow.

    All within `timeout_s`: a server that trickles its answer a byte at a time never trips a per-read timeout.
    """
    try:
        return within(timeout_s, lambda: probe_server(uri, timeout_s))
    except TimeoutError:
        return f"cannot reach MLflow at {redact(uri)} (timed out: no whole answer within {timeout_s:g} s)"


def within(seconds: float, fn: Callable[[], T]) -> T:
    """fn's result, or TimeoutError after `seconds`; fn goes on in a daemon thread, which its own socket
    timeouts end, and which never holds up the interpreter's exit."""
    outcome: list[tuple[bool, Any]] = []

    def target() -> None:
        try:
            outcome.append((True, fn()))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            outcome.append((False, exc))

    thread = threading.Thread(target=target, name="mlflow-probe", daemon=True)
    thread.start()
    thread.join(seconds)
    if not outcome:
        raise TimeoutError
    done, value = outcome[0]
    if not done:
        raise value
    return value


def probe_server(uri: str, timeout_s: float) -> str | None:
    """Only an MLflow answer counts: /health (not alone: it skips MLflow 3's Host-header check, and a healthy
    server can still answer every API call with 403), then the API's own JSON, not any HTTP reply (a plain
    web server answers 404, a stub `200 {}`)."""
    base = uri.rstrip("/")
    path = "/health"
    try:
        fetch(base + path, timeout_s)
        path = API_PROBE.partition("?")[0]
        body = api_answer(base, timeout_s)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403) or exc.code >= 500:  # MLflow (or its proxy) there, refusing or failing
            return http_problem(uri, exc)
        raise NotMlflow(http_problem(uri, exc)) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:  # refused, timed out, TLS, a bad URL
        return f"cannot reach MLflow at {redact(uri)} ({getattr(exc, 'reason', None) or exc})"
    except http.client.HTTPException as exc:  # bytes that are not HTTP, an answer cut short
        raise NotMlflow(f"{redact(uri)} answered GET {path} with something that is not HTTP ({first_line(exc)}); "
                        "is it an MLflow tracking server?") from None
    if not is_mlflow_answer(body):
        raise NotMlflow(f"{redact(uri)} answered GET {path} without MLflow's JSON ({body[:40]!r}); is it an "
                        "MLflow tracking server?")
    return None


def fetch(url: str, timeout_s: float) -> bytes:
    request = urllib.request.Request(url, headers=auth_headers())
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return response.read(1 << 20)


def api_answer(base: str, timeout_s: float) -> bytes:
    """The probe's body; MLflow answers it 404 with its error JSON, anything else 404 is no MLflow."""
    try:
        return fetch(base + API_PROBE, timeout_s)
    except urllib.error.HTTPError as exc:
        body = exc.read(1 << 20) if exc.code == 404 else b""
        if b"RESOURCE_DOES_NOT_EXIST" not in body:
            raise
        return body


def is_mlflow_answer(body: bytes) -> bool:
    """The JSON MLflow answers the probe with: the experiment, or the error saying there is none."""
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    return isinstance(answer, dict) and (isinstance(answer.get("experiment"), dict)
                                         or answer.get("error_code") == "RESOURCE_DOES_NOT_EXIST")


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


def tracking_problem(uri: str, timeout_s: int = 5) -> str | None:
    """Why the tracking store cannot be read (one line), or None when it can.

    A store that is missing or does not answer is a gap that the report notes. A bad MLFLOW_* setting, or a
    store that answers as something other than this MLflow's, raises UserError: MLflow would write its tables
    into another application's database, or migrate one of another version, just by opening it.
    """
    if problem := environment_problem():
        raise UserError(problem)
    path = sqlite_path(uri)
    if path is not None and not path.is_file():
        return f"no MLflow database at {redact(uri)}"
    if path is not None and (problem := sqlite_file_problem(path)):
        return f"{redact(uri)} {problem}"
    if uri.startswith(("http://", "https://")):
        try:
            return unreachable_server(uri, timeout_s)
        except NotMlflow as exc:
            raise UserError(f"tracking.uri: {exc}") from None
    if path is None and (problem := database_problem(uri, timeout_s)):
        return problem
    check_schema("tracking.uri", uri, mlflow_signature(), timeout_s)
    return None


@functools.lru_cache(maxsize=1)
def mlflow_signature() -> Signature:
    """The tables and schema revision of a store of the installed MLflow (harness.stores.schema compares)."""
    from alembic.script import ScriptDirectory
    from mlflow.store.db.base_sql_model import Base
    from mlflow.store.db.utils import _get_alembic_config  # importing it registers every table with Base

    migrations = ScriptDirectory.from_config(_get_alembic_config(db_url=""))
    return Signature("MLflow", frozenset(Base.metadata.tables) | {ALEMBIC}, (alembic_version(migrations),),
                     "mlflow db upgrade {url}")


# The numbers MLflow reads from MLFLOW_HTTP_REQUEST_* and the least each may be: MLflow checks some only at its
# first request, deep inside a worker, and a timeout of -1 fails there as a traceback.
MLFLOW_MINIMUMS = {"MLFLOW_HTTP_REQUEST_TIMEOUT": 1, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": 0,
                   "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": 0, "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": 0}
KIND = {int: "an integer", float: "a number", bool: "true or false (or 1 or 0)"}


def environment_problem() -> str | None:
    """The first MLFLOW_* variable whose value MLflow cannot use, as '$NAME: 'value' ...', or None.

    Every variable MLflow declares is parsed as MLflow will parse it, when it first needs it.
    """
    try:
        from mlflow import environment_variables as declared
    except Exception as exc:  # noqa: BLE001 - MLflow reads some variables while it is imported
        return f"MLflow cannot start: {first_line(exc)}"
    for variable in vars(declared).values():
        if isinstance(variable, declared._EnvironmentVariable) and variable.is_set():
            if problem := variable_problem(variable):
                return f"${variable.name}: {variable.get_raw()!r} {problem}"
    return None


def variable_problem(variable: Any) -> str | None:
    """Why MLflow cannot use the variable's value, or None."""
    try:
        value = variable.get()
    except ValueError:
        return f"is not {KIND.get(variable.type, 'a ' + variable.type.__name__)}"
    minimum = MLFLOW_MINIMUMS.get(variable.name)
    if minimum is not None and value < minimum:
        return f"is out of range; allowed: >= {minimum}"
    try:
        mlflow_limit(variable.name, value)
    except Exception as exc:  # noqa: BLE001 - MlflowException, raised by MLflow's own check
        return f"is out of range ({first_line(exc)})"
    return None


def mlflow_limit(name: str, value: Any) -> None:
    """MLflow's own upper limits on its retries (its _MLFLOW_HTTP_REQUEST_*_LIMIT), which raise when exceeded."""
    from mlflow.utils import rest_utils

    check = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "_validate_max_retries",
             "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "_validate_backoff_factor"}.get(name)
    if check and hasattr(rest_utils, check):
        getattr(rest_utils, check)(value)


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


def no_progress_bar() -> AbstractContextManager[None]:
    """MLflow draws a download progress bar even off a terminal; the report's output stays one line."""
    return environment("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


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
