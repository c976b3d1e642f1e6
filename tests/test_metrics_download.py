"""The bounded download: URLs it can open, the bytes copied whole, every failure an OSError naming its cause."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest

from harness.core.errors import UserError
from harness.metrics.download import check_url, download


@pytest.mark.parametrize("url", ["https://example.org/w.pth", "http://127.0.0.1:8000/w", "file:///tmp/w.pth"])
def test_http_https_and_file_urls_are_accepted(url: str) -> None:
    check_url("--url", url)


@pytest.mark.parametrize("url", ["", "w.pth", "ftp://example.org/w", "http://", " http://example.org/w",
                                 "http://example.org/w\n"])
def test_anything_else_is_one_line_naming_the_key(url: str) -> None:
    with pytest.raises(UserError) as refused:
        check_url("--url", url)
    assert str(refused.value).startswith(f"--url: {url!r} is not a URL; allowed: http://..., https://..., file://...")


def test_a_file_url_is_copied_byte_for_byte(tmp_path: Path) -> None:
    source, target = tmp_path / "source.bin", tmp_path / "target.bin"
    source.write_bytes(bytes(range(256)) * 5000)  # more than one read chunk
    download(source.as_uri(), target)
    assert target.read_bytes() == source.read_bytes()


class Status(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_error(403, "Forbidden")

    def log_message(self, *args: object) -> None:
        pass


def test_an_http_error_is_an_os_error_naming_the_status(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Status)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(OSError, match="^HTTP 403 Forbidden$"):
            download(f"http://127.0.0.1:{server.server_address[1]}/w.pth", tmp_path / "w")
    finally:
        server.shutdown()
