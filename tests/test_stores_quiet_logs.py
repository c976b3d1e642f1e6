"""A dropped database connection is one harness line per retry, not Optuna's raw SQL or SQLAlchemy's traceback."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

# Exactly what Optuna 5 logs (storages/_rdb/storage.py) when PostgreSQL ends its connection mid-read.
OPTUNA_RECORD = ("Caught an error from sqlalchemy: (psycopg2.OperationalError) terminating connection due to "
                 "administrator command\\nSSL connection has been closed unexpectedly\\n\\n[SQL: SELECT "
                 "trials.trial_id AS trials_trial_id, trials.number AS trials_number FROM trials WHERE "
                 "trials.study_id = %(study_id_1)s]\\n[parameters: {'study_id_1': 1}]\\n(Background on this error at: "
                 "https://sqlalche.me/e/20/e3q8). Falling back to a slower alternative.")

SCRIPT = f"""
import logging
import optuna
import harness.sweep.studies  # the sweep's storage module: importing it installs the filters
from harness.core.errors import UserError

logging.getLogger("optuna.storages._rdb.storage").warning("{OPTUNA_RECORD}")
try:
    raise ConnectionError("server closed the connection unexpectedly\\nThis probably means ...")
except ConnectionError:
    logging.getLogger("sqlalchemy.pool.impl.QueuePool").error("Exception during reset or similar", exc_info=True)
logging.getLogger("optuna.storages._rdb.storage").warning("an unrelated warning")
"""


def test_optuna_and_sqlalchemy_retry_records_are_one_line_each() -> None:
    """In a fresh process, with the libraries' own handlers as a sweep has them."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[:2] == [
        "warning: the Optuna storage dropped a connection ((psycopg2.OperationalError) terminating connection due "
        "to administrator command); retrying",
        "warning: a database dropped a connection (server closed the connection unexpectedly); retrying"]
    assert len(lines) == 3 and lines[2].endswith("an unrelated warning")  # other records pass unchanged
    assert "Traceback" not in done.stderr and "[SQL:" not in done.stderr


def test_installing_twice_adds_nothing() -> None:
    from harness.stores.quiet_logs import (OPTUNA_RDB, SQLALCHEMY_POOL, OneLineHandler, OneLinePerRetry,
                                           quiet_store_logs)

    def installed() -> tuple[int, int]:
        return (sum(isinstance(f, OneLinePerRetry) for f in logging.getLogger(OPTUNA_RDB).filters),
                sum(isinstance(h, OneLineHandler) for h in logging.getLogger(SQLALCHEMY_POOL).handlers))

    quiet_store_logs()
    quiet_store_logs()
    assert installed() == (1, 1)
