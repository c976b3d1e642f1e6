"""One bounded download: the only network transfer the harness makes itself (`gan-ablate fetch-weights`).

torch.hub's downloader opens the URL without a timeout, so a server that accepts and never answers,
or sends its headers and stalls, hangs the command forever. Here every wait has a bound: connecting
and each read give up after `timeout_s`, and the whole transfer after `limit_s`.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from harness.core.errors import UserError

SCHEMES = ("http", "https", "file")
CHUNK = 1 << 20


def check_url(key: str, url: str) -> None:
    """A URL urllib can open, or a one-line UserError naming `key`."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in SCHEMES or not (parts.netloc or parts.path) or url != url.strip() or "\x00" in url:
        raise UserError(f"{key}: {url!r} is not a URL; allowed: {', '.join(s + '://...' for s in SCHEMES)}")


def download(url: str, destination: Path, timeout_s: float = 30.0, limit_s: float = 3600.0) -> None:
    """Copy `url` into `destination`; an OSError (refused, timed out, HTTP error, disk full) on failure."""
    deadline = time.monotonic() + limit_s
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, destination.open("wb") as out:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the transfer took longer than {limit_s:.0f}s")
    except urllib.error.HTTPError as exc:  # an OSError whose message is the status, not the URL
        raise OSError(f"HTTP {exc.code} {exc.reason}") from None
    except http.client.HTTPException as exc:  # not HTTP at all: garbage bytes, a connection closed early
        raise OSError(f"the server's answer is not HTTP ({type(exc).__name__}: {exc})") from None
