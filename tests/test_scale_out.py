"""Scale-out against real services, no mocks: PostgreSQL for Optuna, a real `mlflow server` for runs.

Each test gets a fresh PostgreSQL database for its studies; the module shares one MLflow server
(PostgreSQL backend, served artifacts in a temp folder, started with docker-compose.yml's own
--allowed-hosts and --cors-allowed-origins). Workers are the real CLI, read back over HTTP.
The storage URLs carry a password that trust authentication ignores, so every test also checks
that it is printed and stored nowhere.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml
from optuna.trial import FrozenTrial, TrialState

from harness.stores.keys import study_names
from harness.sweep.studies import slot_trials
from harness.stores.urls import redact
from tests.services import (MlflowServer, PasswordPostgres, database_rows, free_port, fresh_database, mlflow_server,
                            password_postgres, password_postgres_skip_reason, pg_url, postgres_skip_reason)
from tests.sweep_support import cli_env
from tests.test_compose import compose, flags

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SECRET = f"pw-{secrets.token_hex(8)}"  # in every storage URL; trust auth accepts any password
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
TRAIN_METRICS = {"d_loss", "g_loss", "wasserstein", "gp", "grad_norm_mean", "grad_norm_max", "lr_G", "lr_D",
                 "seconds_per_step", "w1"}
CONFIG: dict[str, Any] = {
    "data": {"name": "ring8"},
    "model": {"width": 32, "depth": 2},
    "train": {"steps": 40, "batch_size": 64, "log_every": 20, "eval_every": 20, "sample_every": 20, "device": "cpu"},
    "eval": {"num_samples": 300},
    "sweep": {"trials_per_variant": 4, "seeds": 1, "heartbeat_seconds": 1, "grace_seconds": 3, "report": False,
              "space": {"lambda_gp": {"low": 0.1, "high": 100.0, "log": True}, "n_critic": {"choices": [1, 5]}}},
    "variants": ["wgan_gp"],
}


# --- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def postgres() -> None:
    reason = postgres_skip_reason()
    if reason:
        pytest.skip(reason)


def compose_security_flags() -> list[str]:
    """The MLflow service's --allowed-hosts/--cors-allowed-origins, as docker-compose.yml sets them."""
    options = flags(compose()["services"]["mlflow"]["command"])
    return [word for key in ("--allowed-hosts", "--cors-allowed-origins") for word in (key, options[key])]


@pytest.fixture(scope="module")
def tracking_server(postgres: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    folder = tmp_path_factory.mktemp("mlflow-server")
    with (fresh_database("harness_test_mlflow") as database,
          mlflow_server(pg_url(database), folder, compose_security_flags()) as server):
        yield server


@pytest.fixture(scope="module")
def password_server() -> Iterator[PasswordPostgres]:
    reason = password_postgres_skip_reason()
    if reason:
        pytest.skip(reason)
    with password_postgres() as server:
        yield server


@pytest.fixture
def storage(postgres: None) -> Iterator[str]:
    """An empty PostgreSQL database: nobody created anything in it before the workers start."""
    with fresh_database() as database:
        yield pg_url(database, password=SECRET)


# --- helpers -------------------------------------------------------------------------------------

def write_config(folder: Path, name: str, **sections: dict[str, Any]) -> Path:
    raw = {"name": name, **{key: {**value, **sections.get(key, {})} if isinstance(value, dict) else value
                            for key, value in CONFIG.items()}}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def worker_env() -> dict[str, str]:
    return {**cli_env(), "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


StartWorker = Callable[[Path, Path, str, str], subprocess.Popen]


@pytest.fixture
def start_worker() -> Iterator[StartWorker]:
    """Starts the real CLI; whatever a failing test leaves running is killed with its process group."""
    started: list[subprocess.Popen] = []

    def start(folder: Path, config: Path, storage: str, tracking: str) -> subprocess.Popen:
        command = [sys.executable, "-m", "harness.sweep", str(config), "--storage", storage,
                   "--tracking-uri", tracking]
        process = subprocess.Popen(command, cwd=folder, env=worker_env(), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, start_new_session=True)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()


def finish(process: subprocess.Popen, timeout_s: float = 300) -> tuple[str, str]:
    try:
        out, err = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        raise AssertionError(f"worker still running after {timeout_s:.0f}s:\n{err[-3000:]}") from None
    assert process.returncode == 0, err[-3000:]
    assert SECRET not in out + err, "the storage password was printed"
    return out, err


def rest(server: MlflowServer, endpoint: str, body: dict[str, Any] | None = None, host: str | None = None,
         origin: str | None = None, **params: Any) -> Any:
    """One MLflow REST call over HTTP (GET with query parameters, or POST with a JSON body)."""
    url = server.url + endpoint + ("?" + urllib.parse.urlencode(params) if params else "")
    headers = {"Content-Type": "application/json", **({"Host": host} if host else {}),
               **({"Origin": origin} if origin else {})}
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="GET" if data is None else "POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = response.read()
    return json.loads(payload) if endpoint.startswith("/api/") else payload


def http_status(server: MlflowServer, endpoint: str, **kwargs: Any) -> int:
    try:
        rest(server, endpoint, **kwargs)
    except urllib.error.HTTPError as exc:
        return exc.code
    return 200


def runs_over_http(server: MlflowServer, experiment: str) -> tuple[str, list[dict[str, Any]]]:
    """The experiment's id and every run in it, each with its tags and params as plain dicts."""
    experiment_id = rest(server, "/api/2.0/mlflow/experiments/get-by-name", experiment_name=experiment)[
        "experiment"]["experiment_id"]
    found = rest(server, "/api/2.0/mlflow/runs/search",
                 {"experiment_ids": [experiment_id], "max_results": 1000, "run_view_type": "ALL"}).get("runs", [])
    for run in found:
        data = run.setdefault("data", {})
        data["tags"] = {t["key"]: t["value"] for t in data.get("tags", [])}
        data["params"] = {p["key"]: p["value"] for p in data.get("params", [])}
        data["metrics"] = {m["key"]: m["value"] for m in data.get("metrics", [])}
    return experiment_id, found


def metric_steps(server: MlflowServer, run_id: str, key: str) -> list[int]:
    history = rest(server, "/api/2.0/mlflow/metrics/get-history", run_id=run_id, metric_key=key)
    return sorted(int(m["step"]) for m in history.get("metrics", []))


def artifact_paths(server: MlflowServer, run_id: str, path: str = "") -> list[str]:
    listing = rest(server, "/api/2.0/mlflow/artifacts/list", run_id=run_id, **({"path": path} if path else {}))
    return [f["path"] for f in listing.get("files", [])]


def search_and_confirm(storage: str, name: str) -> tuple[optuna.Study, optuna.Study]:
    return (optuna.load_study(study_name=f"{name}/wgan_gp", storage=storage),
            optuna.load_study(study_name=study_names(name, "wgan_gp")[1], storage=storage))


def assert_exact_counts(storage: str, name: str, runs: list[dict[str, Any]], budget: int, seeds: int) -> None:
    """Budget slots filled exactly once each, and every slot's MLflow child run present exactly once."""
    names = {s.study_name for s in optuna.get_all_study_summaries(storage)}
    assert names == set(study_names(name, "wgan_gp"))
    children = [r for r in runs if r["data"]["tags"].get("harness.role") == "trial"]
    by_id = Counter(r["info"]["run_id"] for r in children)
    assert max(by_id.values()) == 1
    runs_by_id = {r["info"]["run_id"]: r for r in children}
    for study, expected in zip(search_and_confirm(storage, name), (budget, seeds)):
        slots = slot_trials(study.get_trials(deepcopy=False))
        assert len(slots) == expected, (study.study_name, [(t.number, t.state) for t in study.trials])
        assert len({t.number for t in slots}) == expected
        assert all(t.state in FINISHED for t in slots), [t.state for t in slots]
        for trial in slots:
            run = runs_by_id[trial.user_attrs["mlflow_run_id"]]
            assert run["info"]["status"] == "FINISHED"
            assert run["data"]["tags"]["harness.study"] == study.study_name
            assert run["data"]["tags"]["harness.trial_number"] == str(trial.number)


def assert_secret_stored_nowhere(storage: str, runs: list[dict[str, Any]]) -> None:
    assert SECRET not in json.dumps(runs), "the storage password is in an MLflow param or tag"
    database = storage.rpartition("/")[2]
    with database_rows(database) as rows:
        leaks = [table for table, text in rows if SECRET in text]
    assert not leaks, f"the storage password is stored in the Optuna tables {sorted(set(leaks))}"


def wait_for(condition: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


# --- tests ---------------------------------------------------------------------------------------

def test_compose_security_flags_admit_the_workers_and_refuse_other_hosts(tracking_server: MlflowServer) -> None:
    search = "/api/2.0/mlflow/experiments/search"
    assert http_status(tracking_server, search, host="mlflow:5000", max_results=1) == 200  # the workers' Host
    assert http_status(tracking_server, search, host="attacker.example", max_results=1) == 403  # DNS rebinding
    body = {"max_results": 1}
    assert http_status(tracking_server, search, body=body, origin="http://127.0.0.1:5000") == 200  # the UI
    assert http_status(tracking_server, search, body=body, origin="http://attacker.example") == 403


def test_two_workers_on_an_empty_database_fill_the_budget_exactly_and_log_to_the_server(
        tracking_server: MlflowServer, storage: str, start_worker: StartWorker, tmp_path: Path) -> None:
    config = write_config(tmp_path, "scaleout-two")
    workers = [start_worker(tmp_path, config, storage, tracking_server.url) for _ in range(2)]  # same instant
    outputs = [finish(worker) for worker in workers]
    assert all("postgres:***@" in out for out, _ in outputs)  # the plan shows the URL, redacted
    experiment_id, runs = runs_over_http(tracking_server, "scaleout-two")
    assert_exact_counts(storage, "scaleout-two", runs, budget=4, seeds=1)
    assert_secret_stored_nowhere(storage, runs)
    search, _ = search_and_confirm(storage, "scaleout-two")
    assert len({t.user_attrs["worker"] for t in search.trials}) == 2, "both workers claimed trials"

    parents = [r for r in runs if r["data"]["tags"].get("harness.role") == "study"]
    assert len(parents) == 1  # created once, by whichever worker held the lock first
    children = [r for r in runs if r["data"]["tags"].get("harness.role") == "trial"]
    assert len(children) == 5
    for run in children:
        run_id = run["info"]["run_id"]
        assert run["data"]["tags"]["mlflow.parentRunId"] == parents[0]["info"]["run_id"]
        assert TRAIN_METRICS <= set(run["data"]["metrics"])
        assert metric_steps(tracking_server, run_id, "d_loss") == [20, 40]
        assert metric_steps(tracking_server, run_id, "w1") == [20, 40]
        assert {"checkpoint.pt", "samples.pt"} <= set(artifact_paths(tracking_server, run_id))
        assert_sample_grids_served(tracking_server, experiment_id, run_id)
    assert not list(tmp_path.glob("**/checkpoint.pt")), "artifacts belong on the server, not the worker's disk"


def assert_sample_grids_served(server: MlflowServer, experiment_id: str, run_id: str) -> None:
    """log_image(key="samples", step=...) grids: listed and downloaded over HTTP, stored by the server."""
    images = [p for p in artifact_paths(server, run_id, "images") if p.endswith(".png")]
    assert len(images) == 3 and all("samples" in p for p in images), images  # steps 0, 20 and 40
    png = rest(server, "/get-artifact", path=images[0], run_uuid=run_id)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    stored = server.artifacts / experiment_id / run_id / "artifacts" / images[0]
    assert stored.read_bytes() == png  # served artifacts: the server's --artifacts-destination holds them


def running_with_run(storage: str, study_name: str) -> FrozenTrial | None:
    """A RUNNING trial whose MLflow run exists (the worker is training, not claiming)."""
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:  # not created yet
        return None
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    return next((t for t in running if "mlflow_run_id" in t.user_attrs and "worker" in t.user_attrs), None)


def test_a_worker_killed_mid_trial_is_replaced_by_the_other_and_counts_stay_exact(
        tracking_server: MlflowServer, storage: str, start_worker: StartWorker, tmp_path: Path) -> None:
    name = "scaleout-kill"
    config = write_config(tmp_path, name, train={"steps": 200, "log_every": 50, "eval_every": 100,
                                                 "sample_every": 200}, sweep={"trials_per_variant": 3})
    workers = {p.pid: p for p in (start_worker(tmp_path, config, storage, tracking_server.url) for _ in range(2))}
    victim_trial = wait_for(lambda: running_with_run(storage, f"{name}/wgan_gp"), 180, "a trial in training")
    victim_pid = int(victim_trial.user_attrs["worker"].rpartition(":")[2])
    assert victim_trial.user_attrs["worker"].startswith(socket.gethostname()) and victim_pid in workers
    os.kill(victim_pid, signal.SIGKILL)
    assert workers.pop(victim_pid).wait(timeout=30) == -signal.SIGKILL
    (survivor,) = workers.values()
    finish(survivor)  # it fails the silent trial after grace_seconds, re-queues it and runs it

    _, runs = runs_over_http(tracking_server, name)
    assert_exact_counts(storage, name, runs, budget=3, seeds=1)
    trials = search_and_confirm(storage, name)[0].trials
    dead = trials[victim_trial.number]
    assert dead.state == TrialState.FAIL
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == dead.number]
    assert len(retry) == 1 and retry[0].state in FINISHED and retry[0].params == dead.params
    status = {r["info"]["run_id"]: (r["info"]["status"], r["data"]["tags"].get("harness.outcome")) for r in runs}
    assert status[dead.user_attrs["mlflow_run_id"]] == ("KILLED", "killed")
    assert status[retry[0].user_attrs["mlflow_run_id"]] == ("FINISHED", "complete")
    children = [r for r in runs if r["data"]["tags"].get("harness.role") == "trial"]
    assert len(children) == 3 + 1 + 1  # the budget, the confirmation run and the killed attempt


# --- connection failures: one line on stderr naming the URL without its password, exit 2 ----------

SERVER_DOWN = [
    pytest.param("storage", lambda: pg_url("test", password=SECRET, port=free_port()), id="storage"),
    pytest.param("storage", lambda: pg_url("test", driver="postgresql", password=SECRET, port=free_port()),
                 id="storage-bare-postgresql-scheme"),
    pytest.param("tracking", lambda: f"http://127.0.0.1:{free_port()}", id="tracking-server"),
]


def run_cli(folder: Path, storage: str, tracking: str, env: dict[str, str] | None = None,
            **sections: dict[str, Any]) -> subprocess.CompletedProcess:
    config = write_config(folder, "scaleout-cli", **sections)
    command = [sys.executable, "-m", "harness.sweep", str(config), "--storage", storage, "--tracking-uri", tracking]
    return subprocess.run(command, cwd=folder, env=env or worker_env(), capture_output=True, text=True, check=False,
                          timeout=30)


def assert_one_line_error(done: subprocess.CompletedProcess, url: str) -> None:
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and SECRET not in done.stdout + done.stderr
    assert redact(url) in done.stderr


def run_with(tmp_path: Path, which: str, url: str) -> subprocess.CompletedProcess:
    """The CLI with `url` as the storage or the tracking URI, and a local SQLite store for the other."""
    other = f"sqlite:///{tmp_path / 'other.db'}"
    return run_cli(tmp_path, *((url, other) if which == "storage" else (other, url)))


@pytest.mark.parametrize(("which", "make_url"), SERVER_DOWN)
def test_a_server_that_is_down_is_one_line_naming_the_url_without_its_password(
        tmp_path: Path, which: str, make_url: Callable[[], str]) -> None:
    url = make_url()
    assert_one_line_error(run_with(tmp_path, which, url), url)


@pytest.mark.parametrize("which", ["storage", "tracking"])
def test_a_wrong_password_is_one_line_naming_the_url_without_it(password_server: PasswordPostgres,
                                                                tmp_path: Path, which: str) -> None:
    url = pg_url("postgres", user=password_server.user, password=SECRET, port=password_server.port)
    done = run_with(tmp_path, which, url)
    assert_one_line_error(done, url)
    assert "password authentication failed" in done.stderr


def test_the_password_can_come_from_pgpassword_instead_of_the_url(password_server: PasswordPostgres,
                                                                  tmp_path: Path) -> None:
    """How docker-compose.yml passes it: the URL names the user only, libpq reads PGPASSWORD."""
    url = pg_url("postgres", user=password_server.user, port=password_server.port)
    tiny = {"train": {"steps": 20, "log_every": 10}, "sweep": {"trials_per_variant": 0, "seeds": 1}}
    no_password = {**worker_env(), "PGPASSFILE": str(tmp_path / "none")}
    no_password.pop("PGPASSWORD", None)
    refused = run_cli(tmp_path, url, f"sqlite:///{tmp_path / 'mlflow.db'}", env=no_password, **tiny)
    assert_one_line_error(refused, url)
    done = run_cli(tmp_path, url, f"sqlite:///{tmp_path / 'mlflow.db'}",
                   env={**no_password, "PGPASSWORD": password_server.password}, **tiny)
    assert done.returncode == 0, done.stderr[-2000:]
    assert password_server.password not in done.stdout + done.stderr
    study = optuna.load_study(study_name=study_names("scaleout-cli", "wgan_gp")[1], storage=pg_url(
        "postgres", user=password_server.user, password=password_server.password, port=password_server.port))
    assert [t.state for t in slot_trials(study.trials)] == [TrialState.COMPLETE]  # no search: the one seed


def test_a_server_that_refuses_the_workers_host_header_is_a_one_line_error(tmp_path: Path) -> None:
    """/health skips MLflow's Host check, so a healthy server can still answer every API call with 403."""
    only_the_compose_name = ["--allowed-hosts", "mlflow,mlflow:5000"]  # a worker reaching it by IP is refused
    with mlflow_server(f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path, only_the_compose_name) as server:
        done = run_cli(tmp_path, f"sqlite:///{tmp_path / 'optuna.db'}", server.url)
    assert_one_line_error(done, server.url)
    assert done.stderr.startswith("error: tracking.uri: ") and "allowed-hosts" in done.stderr
