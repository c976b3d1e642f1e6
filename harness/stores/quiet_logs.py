"""A flapping database speaks in the harness's one line per retry, not in its libraries' logs.

When PostgreSQL drops connections (a restart, `pg_terminate_backend`, a failover), Optuna logs
"Caught an error from sqlalchemy: ..." with the raw SQL and its parameters, and SQLAlchemy's pool
logs "Exception during reset or similar" with a whole traceback; docs/operations.md promises one
line per retry. Each such record becomes one `warning:` line naming the store and the driver's own
reason, and the rest of the record is dropped. Optuna's other records pass unchanged.
"""

from __future__ import annotations

import logging
import sys

from harness.core.errors import first_line

OPTUNA_RDB = "optuna.storages._rdb.storage"
SQLALCHEMY_POOL = "sqlalchemy.pool"
OPTUNA_RETRY = "Caught an error from sqlalchemy:"
MAX_REASON = 200


class OneLinePerRetry(logging.Filter):
    """Print a store's retry record as one line, and keep it from every handler."""

    def __init__(self, store: str, prefix: str = "") -> None:
        super().__init__()
        self.store, self.prefix = store, prefix

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.getMessage().startswith(self.prefix):
            return True
        print(f"warning: {self.store} dropped a connection ({reason(record)}); retrying", file=sys.stderr,
              flush=True)
        return False


class OneLineHandler(logging.Handler):
    """The handler of SQLAlchemy's pool loggers, whose records come from per-class child loggers
    (`sqlalchemy.pool.impl.QueuePool`, ...) that a filter on the parent would never see."""

    def __init__(self, store: str) -> None:
        super().__init__(logging.WARNING)
        self.addFilter(OneLinePerRetry(store))

    def emit(self, record: logging.LogRecord) -> None:
        pass  # the filter printed the line; a record below WARNING never reaches here


def reason(record: logging.LogRecord) -> str:
    """The driver's own first line: the exception's when the record carries one, else the message's,
    past Optuna's prefix and before SQLAlchemy's "[SQL: ...]" block."""
    if record.exc_info and record.exc_info[1] is not None:
        return first_line(record.exc_info[1])[:MAX_REASON]
    text = record.getMessage().removeprefix(OPTUNA_RETRY).strip()
    return (text.splitlines()[0] if text else "no reason given")[:MAX_REASON]


def quiet_store_logs() -> None:
    """Install the filter and the handler once per process (a second call adds nothing)."""
    optuna_rdb = logging.getLogger(OPTUNA_RDB)
    if not any(isinstance(f, OneLinePerRetry) for f in optuna_rdb.filters):
        optuna_rdb.addFilter(OneLinePerRetry("the Optuna storage", OPTUNA_RETRY))
    pool = logging.getLogger(SQLALCHEMY_POOL)
    if not any(isinstance(h, OneLineHandler) for h in pool.handlers):
        pool.addHandler(OneLineHandler("a database"))
        pool.propagate = False  # Python's last-resort handler would print the traceback too
