"""Reading MLflow: runs, metric histories, artifacts, links; an absent store is a note, not a crash."""

from __future__ import annotations

import contextlib
import http.server
import socket
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import torch

from harness.core.errors import UserError
from harness.tracking import write as runs
from tests.report_support import shared_stores
from tests.test_store_boundary import empty_json, garbage, tcp_server, trickle


@pytest.fixture(scope="session")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    return shared_stores(tmp_path_factory)


def test_runs_are_read_with_their_harness_tags(stores: tuple) -> None:
    exp, _ = stores
    frame = runs.load_runs(exp.tracking.uri, exp.name)
    assert list(frame.columns) == runs.RUN_COLUMNS
    assert (frame.role == "study").sum() == 4 and (frame.role == "trial").sum() == 23
    assert set(frame[frame.role == "trial"].git_commit) == {"0123456789abcdef0123456789abcdef01234567"}
    assert runs.load_runs(exp.tracking.uri, "no-such-experiment").empty


def test_metric_history_and_artifacts_of_one_run(stores: tuple, tmp_path: Path) -> None:
    exp, _ = stores
    frame = runs.load_runs(exp.tracking.uri, exp.name)
    run_id = frame[(frame.variant == "vanilla") & (frame.stage == "confirm")].run_id.iloc[0]
    history = runs.metric_history(exp.tracking.uri, run_id, ["d_loss", "w1"])
    assert history[history.key == "d_loss"].step.tolist() == [10, 20, 30, 40]
    assert history[history.key == "w1"].step.tolist() == [20, 40]
    samples = runs.download_artifact(exp.tracking.uri, run_id, "samples.pt", tmp_path)
    assert torch.load(samples, weights_only=True).shape == (300, 2)
    assert runs.download_artifact(exp.tracking.uri, run_id, "absent.pt", tmp_path) is None


def test_a_missing_database_or_server_is_described_not_created(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert runs.tracking_problem(uri).startswith("no MLflow database at sqlite:///")
    assert not (tmp_path / "mlflow.db").exists()
    problem = runs.tracking_problem("http://user:s3cret@127.0.0.1:1", timeout_s=2)
    assert problem.startswith("cannot reach MLflow at http://user:***@127.0.0.1:1")


def test_links_only_for_a_tracking_server() -> None:
    assert runs.run_url("sqlite:///runs/mlflow.db", "1", "abc") is None
    assert runs.run_url("http://host:5000/", "3", "abc") == "http://host:5000/#/experiments/3/runs/abc"


class Answer(http.server.BaseHTTPRequestHandler):
    """A web server that answers every GET with the class's status and body (and records the headers);
    `routes` may give a path prefix its own (status, body)."""

    status, body, seen, routes = 404, b"", [], {}

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        type(self).seen.append(dict(self.headers))
        status, body = next((answer for prefix, answer in self.routes.items() if self.path.startswith(prefix)),
                            (self.status, self.body))
        self.send_response(status)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def web_server(status: int, body: bytes = b"", routes: dict[str, tuple[int, bytes]] | None = None):
    handler = type("Handler", (Answer,), {"status": status, "body": body, "seen": [], "routes": routes or {}})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.seen
    finally:
        server.shutdown()


@pytest.mark.parametrize(("status", "body", "expected"), [
    (404, b"", "answered 404 Not Found to GET /health; is it an MLflow tracking server"),
    (200, b"<html>a web page</html>", "without MLflow's JSON (b'<html>a web page</html>'); is it an MLflow"),
    (401, b"", "answered 401 Unauthorized to GET /health: set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"),
])
def test_only_an_mlflow_answer_counts_as_a_tracking_server(status: int, body: bytes, expected: str) -> None:
    with web_server(status, body) as (url, _):
        assert expected in runs.server_problem(url, timeout_s=5)


# What an MLflow server answers the probes with: /health, and an experiment name it does not hold.
MLFLOW_ROUTES = {"/health": (200, b"OK"), "/api/2.0/mlflow/experiments/get-by-name": (
    404, b'{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Could not find experiment"}')}


def test_an_mlflow_answer_passes_and_credentials_are_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "me")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "pw")
    with web_server(404, routes=MLFLOW_ROUTES) as (url, seen):
        assert runs.server_problem(url, timeout_s=5) is None
    assert seen[-1]["Authorization"] == "Basic bWU6cHc="  # base64 of me:pw, as MLflow's client sends it
    found = {"/api/2.0/mlflow/experiments/get-by-name": (200, b'{"experiment": {"experiment_id": "1"}}')}
    with web_server(404, routes={**MLFLOW_ROUTES, **found}) as (url, _):
        assert runs.server_problem(url, timeout_s=5) is None  # an experiment bearing the probe's name


def test_json_that_is_not_mlflows_is_not_mlflow() -> None:
    """A stub that answers every request with `200 {}` (or a 404 in JSON) is JSON, but no MLflow server."""
    with web_server(200, b"{}") as (url, _):
        assert "without MLflow's JSON (b'{}'); is it an MLflow tracking server" in runs.server_problem(url, 5)
    with web_server(404, b'{"error": "not found"}', routes={"/health": (200, b"OK")}) as (url, _):
        assert "answered 404 Not Found to GET /api/2.0/mlflow/experiments/get-by-name" in runs.server_problem(url, 5)


@pytest.mark.timeout(30)
def test_bytes_that_are_not_http_and_an_answer_that_never_ends_are_one_line_within_the_timeout() -> None:
    with tcp_server(garbage) as url:
        assert "answered GET /health with something that is not HTTP" in runs.server_problem(url, timeout_s=2)
    with tcp_server(trickle) as url:
        started = time.monotonic()
        problem = runs.server_problem(url, timeout_s=2)
        assert time.monotonic() - started < 3
    assert problem == f"cannot reach MLflow at {url} (timed out: no whole answer within 2 s)"


def test_the_report_notes_a_store_that_is_not_there_and_refuses_one_that_is_not_mlflows(tmp_path: Path) -> None:
    """Down or missing: a gap the report notes. Answering as something else: refused, before MLflow opens it."""
    assert runs.tracking_problem("http://127.0.0.1:1", timeout_s=2).startswith("cannot reach MLflow")
    with tcp_server(empty_json) as url, pytest.raises(UserError, match=f"^tracking.uri: {url} answered GET "):
        runs.tracking_problem(url, timeout_s=2)
    (tmp_path / "other.db").write_bytes(b"")
    with sqlite3.connect(tmp_path / "other.db") as connection:
        connection.execute("CREATE TABLE experiments (id INTEGER)")
    before = (tmp_path / "other.db").read_bytes()
    with pytest.raises(UserError, match=r"^tracking.uri: 'sqlite:///.*other.db': is not a whole MLflow database"):
        runs.tracking_problem(f"sqlite:///{tmp_path / 'other.db'}")
    assert (tmp_path / "other.db").read_bytes() == before


def test_a_server_that_never_answers_is_cut_by_the_timeout() -> None:
    with socket.socket() as listener:  # the backlog completes the handshake; nothing ever answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        started = time.monotonic()
        problem = runs.server_problem(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout_s=1)
    assert problem is not None and "timed out" in problem and time.monotonic() - started < 5


def test_a_sqlite_file_that_is_no_database_is_described(tmp_path: Path) -> None:
    (tmp_path / "mlflow.db").write_text("notes\n")
    assert runs.tracking_problem(f"sqlite:///{tmp_path / 'mlflow.db'}").endswith("is not a SQLite database "
                                                                                  "(it starts with b'notes\\n')")
