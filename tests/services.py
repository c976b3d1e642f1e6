"""Real services for the scale-out tests: throwaway PostgreSQL databases and an `mlflow server`.

Nothing here is mocked. PostgreSQL is the one CI runs on 127.0.0.1:5432 (trust auth); each test
run gets a database of its own, dropped at the end. A second, private PostgreSQL cluster with
password authentication stands in where a wrong password must be refused. The MLflow server is
the real CLI, started on a free loopback port with served artifacts in a temporary folder, and
stopped as a process group (uvicorn forks workers).
"""

from __future__ import annotations

import functools
import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN_DATABASES = ("postgres", "test")  # whichever the admin connection can reach first
PG_USER = os.environ.get("HARNESS_TEST_PG_USER", "postgres")
SERVER_START_S = 120.0  # a fresh PostgreSQL backend runs MLflow's migrations first


def port_open(host: str, port: int, timeout_s: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def postgres_skip_reason() -> str | None:
    """Why the PostgreSQL tests cannot run here (None when they can)."""
    if not port_open(PG_HOST, PG_PORT):
        return (f"NO POSTGRESQL on {PG_HOST}:{PG_PORT}: the scale-out tests against a real PostgreSQL are "
                "SKIPPED; start the server (CI runs one) to test multi-worker sweeps")
    return None


def free_port() -> int:
    """A port nothing listens on right now (bound and released; fine for a test's own server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def admin_connection() -> Any:
    """An autocommit psycopg2 connection to an administrative database."""
    import psycopg2

    last_error: Exception | None = None
    for dbname in PG_ADMIN_DATABASES:
        try:
            connection = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname, connect_timeout=5)
        except psycopg2.OperationalError as exc:
            last_error = exc
            continue
        connection.autocommit = True  # CREATE/DROP DATABASE cannot run inside a transaction
        return connection
    raise RuntimeError(f"cannot connect to PostgreSQL at {PG_HOST}:{PG_PORT} as {PG_USER}: {last_error}")


def pg_url(database: str, driver: str = "postgresql+psycopg2", password: str | None = None,
           user: str = PG_USER, port: int = PG_PORT) -> str:
    auth = f"{user}:{password}" if password is not None else user
    return f"{driver}://{auth}@{PG_HOST}:{port}/{database}"


@contextmanager
def fresh_database(prefix: str = "harness_test") -> Iterator[str]:
    """An empty database named `<prefix>_<random>`; yields its name and drops it afterwards."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    connection = admin_connection()
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield name
    finally:
        with connection.cursor() as cursor:
            # WITH (FORCE) ends sessions a killed worker or server may have left behind (PostgreSQL 13+).
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.close()


@contextmanager
def database_rows(database: str) -> Iterator[Iterator[tuple[str, str]]]:
    """Every row of every table in the database's public schema, as (table, row text)."""
    import psycopg2

    connection = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=database, connect_timeout=5)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            tables = [row[0] for row in cursor.fetchall()]

        def rows() -> Iterator[tuple[str, str]]:
            for table in tables:
                with connection.cursor() as cursor:
                    cursor.execute(f'SELECT t::text FROM "{table}" t')
                    yield from ((table, row[0]) for row in cursor.fetchall())

        yield rows()
    finally:
        connection.close()


def service_env() -> dict[str, str]:
    """The environment of every process a test starts: no telemetry, no inherited tracking URI."""
    env = dict(os.environ)
    env.pop("MLFLOW_TRACKING_URI", None)
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["DO_NOT_TRACK"] = "true"
    return env


@dataclass(frozen=True)
class MlflowServer:
    url: str
    artifacts: Path
    log: Path
    process: subprocess.Popen


def healthy(url: str, timeout_s: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=timeout_s) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_group(process: subprocess.Popen, timeout_s: float = 3.0) -> None:
    """SIGTERM the process group (server, uvicorn workers, job runner), then SIGKILL what is left.

    A test server's data is thrown away, so a short grace period is enough.
    """
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # members that outlived the leader, or a leader still shutting down
    except ProcessLookupError:
        pass
    process.wait()


@contextmanager
def mlflow_server(backend_store_uri: str, folder: Path, extra_args: Sequence[str] = ()) -> Iterator[MlflowServer]:
    """`mlflow server` on a free loopback port, serving artifacts from `folder/artifacts`."""
    port = free_port()
    artifacts, log = folder / "artifacts", folder / "mlflow-server.log"
    artifacts.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
               "--workers", "1", "--backend-store-uri", backend_store_uri,
               "--artifacts-destination", str(artifacts), *extra_args]
    with open(log, "wb") as log_file:
        process = subprocess.Popen(command, cwd=folder, env=service_env(), stdout=log_file,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    server = MlflowServer(url, artifacts, log, process)
    try:
        wait_healthy(server)
        yield server
    finally:
        stop_group(process)


def wait_healthy(server: MlflowServer) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {server.process.returncode}:\n{log_tail(server.log)}")
        if healthy(server.url):
            return
        time.sleep(0.5)
    raise RuntimeError(f"mlflow server not healthy after {SERVER_START_S:.0f}s:\n{log_tail(server.log)}")


# --- a private PostgreSQL with password authentication ----------------------------------------
# The shared server trusts every local connection, so it cannot refuse a wrong password. This one,
# initialised per test module on a free port, can (scram-sha-256, like the official image).

@dataclass(frozen=True)
class PasswordPostgres:
    port: int
    user: str
    password: str
    data: Path | None = None  # the cluster's folder, for pg_ctl_stop / pg_ctl_start (a test that stops it)
    options: str = ""


def pg_ctl(server: PasswordPostgres, *args: str) -> None:
    """Run pg_ctl on the private cluster: `pg_ctl(server, "stop", "-m", "fast")`, `pg_ctl(server, "start")`."""
    bindir = Path(initdb_path()).parent
    extra = ["-o", server.options, "-l", str(server.data.parent / "server.log"), "-w"] if args[0] == "start" else []
    subprocess.run(as_postgres([str(bindir / "pg_ctl"), "-D", str(server.data), *args, *extra]), check=True,
                   capture_output=True, text=True, timeout=120)


def initdb_path() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return found[-1] if found else shutil.which("initdb")


def as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to the `postgres` account when we are root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def password_postgres_skip_reason() -> str | None:
    if initdb_path() is None:
        return "NO initdb: the wrong-password test needs PostgreSQL's server binaries (apt-get install postgresql)"
    if os.geteuid() == 0 and (shutil.which("runuser") is None or not _has_user("postgres")):
        return "running as root without a `postgres` account to run a private PostgreSQL as"
    return None


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@contextmanager
def password_postgres(user: str = "harness") -> Iterator[PasswordPostgres]:
    """A throwaway PostgreSQL cluster on 127.0.0.1:<free port> that checks passwords."""
    bindir = Path(initdb_path()).parent
    folder = Path(tempfile.mkdtemp(prefix="harness-pg-"))  # not under pytest's 0700 tmp: postgres must enter it
    password, port = secrets.token_hex(12), free_port()
    (folder / "pw").write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(folder / "pw", "postgres")
    data, log = folder / "data", folder / "server.log"
    run = functools.partial(subprocess.run, check=True, capture_output=True, text=True, timeout=120)
    run(as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", user, f"--pwfile={folder / 'pw'}",
                     "--auth=scram-sha-256", "-E", "UTF8", "--no-sync"]))
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start"]))
    try:
        yield PasswordPostgres(port, user, password, data, options)
    finally:
        subprocess.run(as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True, check=False, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)
