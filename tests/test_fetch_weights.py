"""`gan-ablate fetch-weights`: one download into the torch hub cache, checked; failures are one line.

A file:// URL stands in for the release (tests never download).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.metrics.inception import WEIGHTS_FILE
from tests.inception_support import write_random_inception
from tests.test_cli import run_main


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_random_inception(tmp_path_factory.mktemp("release"))


def test_it_downloads_once_into_the_hub_cache(source: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    target = tmp_path / "hub" / "checkpoints" / WEIGHTS_FILE
    code, out, err = run_main(capsys, ["fetch-weights", "--url", source.as_uri()])
    assert code == 0 and err == "" and out.startswith(f"saved {target} (sha256 ")
    assert target.read_bytes() == source.read_bytes()
    code, out, _ = run_main(capsys, ["fetch-weights", "--url", "file:///nowhere"])
    assert code == 0 and out.startswith("already there")  # nothing is fetched twice
    code, out, _ = run_main(capsys, ["fetch-weights", "--url", source.as_uri(), "--force"])
    assert code == 0 and out.startswith("saved")


def test_a_failed_download_is_one_line_and_leaves_nothing(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    code, out, err = run_main(capsys, ["fetch-weights", "--url", (tmp_path / "missing.pth").as_uri()])
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: --url: downloading file://") and "without internet, copy the file to" in err
    assert not list((tmp_path / "hub" / "checkpoints").glob("*"))


def test_it_is_listed_in_the_top_level_help(capsys) -> None:
    code, out, _ = run_main(capsys, ["--help"])
    assert code == 0 and "fetch-weights" in out


# --- issue 26: every wait ends, no URL or file runs code ---------------------------------------------------

class Pwn:
    """A pickle that runs a command when it is loaded: what a hostile weights file holds."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204 - pickle's protocol
        return (os.system, (f"touch {self.marker}",))


@contextlib.contextmanager
def tcp_server(answer: Callable[[socket.socket], None]) -> Iterator[str]:
    """A loopback server that hands each connection to `answer`; its http:// URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/weights.pth"
    finally:
        stop.set()
        listener.close()


def never_answers(connection: socket.socket) -> None:
    time.sleep(30)
    connection.close()


def headers_then_stall(connection: socket.socket) -> None:
    connection.recv(4096)
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n" + b"x" * 1000)
    time.sleep(30)
    connection.close()


def not_http(connection: socket.socket) -> None:
    connection.recv(4096)
    connection.sendall(b"\x00\xffSSH-2.0-garbage\r\n\x13\x37" * 10)
    connection.close()


def garbage_file(connection: socket.socket) -> None:
    connection.recv(4096)
    body = bytes(range(256)) * 40
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    connection.close()


def one_line_error(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    code, out, err = run_main(capsys, ["fetch-weights", *argv])
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: --url: "), err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("answer, said", [(never_answers, "timed out"), (headers_then_stall, "timed out"),
                                          (not_http, "not HTTP"), (garbage_file, "did not serve the Inception")])
def test_a_server_that_stalls_or_talks_nonsense_ends_in_one_line(answer, said: str, tmp_path: Path, monkeypatch,
                                                                   capsys) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with tcp_server(answer) as url:
        started = time.monotonic()
        err = one_line_error(capsys, ["--url", url, "--timeout", "1"])
    assert said in err and time.monotonic() - started < 15  # bounded by --timeout, never by the server
    assert not list((tmp_path / "hub" / "checkpoints").glob("*"))


@pytest.mark.parametrize("url", ["", "   ", "not a url", "ftp://example.org/w.pth", "http://"])
def test_a_url_that_is_not_one_is_refused_in_one_line(url: str, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert "is not a URL" in one_line_error(capsys, ["--url", url])


def test_a_url_with_a_nul_is_refused_by_the_argument_parser(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    code, out, err = run_main(capsys, ["fetch-weights", "--url", "file:///x\x00y"])
    assert code == 2 and out == "" and err.count("\n") == 1 and "argument --url: " in err and "NUL" in err


def test_a_weights_file_that_would_run_code_is_refused_and_runs_nothing(tmp_path: Path, monkeypatch,
                                                                         capsys) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    hostile, marker = tmp_path / "hostile.pth", tmp_path / "pwned"
    with hostile.open("wb") as f:
        pickle.dump({"conv.weight": Pwn(marker)}, f)  # torch.load's legacy format is a plain pickle
    err = one_line_error(capsys, ["--url", hostile.as_uri()])
    assert "did not serve the Inception weights" in err
    assert not marker.exists()  # torch-fidelity's own torch.load(weights_only=False) would have run it
