"""One line per error: the root cause behind SQLAlchemy's, MLflow's and Optuna's wrappers."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy.exc

from harness.core.errors import ConfigError, UserError, cli_entry, first_line, root_cause

AUTOFLUSH = ("raised as a result of Query-invoked autoflush; consider using a session.no_autoflush block if this "
             "flush is occurring prematurely")


def wrapped() -> Exception:
    """What MLflow raises when runs/ turned read-only: its exception, from SQLAlchemy's, from sqlite3's."""
    try:
        try:
            raise sqlite3.OperationalError("attempt to write a readonly database")
        except sqlite3.Error as driver:
            sql_error = sqlalchemy.exc.OperationalError("INSERT INTO metrics ...", {}, driver)
            sql_error.add_detail(AUTOFLUSH)  # what SQLAlchemy's session adds to an error of an autoflush
            raise sql_error from driver
    except sqlalchemy.exc.OperationalError as sql:
        try:
            raise RuntimeError(str(sql)) from sql
        except RuntimeError as outer:
            return outer


def test_the_root_cause_is_the_drivers_message_not_the_wrappers() -> None:
    exc = wrapped()
    assert str(exc).splitlines()[0].startswith("(raised as a result of Query-invoked autoflush")
    assert isinstance(root_cause(exc), sqlite3.OperationalError)
    assert first_line(exc) == "attempt to write a readonly database"


def test_an_error_without_a_message_is_named_by_its_type() -> None:
    assert first_line(EOFError()) == "EOFError" and first_line(KeyError()) == "KeyError"


def test_a_user_error_raised_from_none_keeps_its_own_message() -> None:
    try:
        try:
            raise ValueError("inner")
        except ValueError:
            raise ConfigError("train.lr", "bad") from None
    except ConfigError as exc:
        assert first_line(exc) == "train.lr: bad"


def test_cli_entry_prints_one_line_and_exits_2(capsys: pytest.CaptureFixture) -> None:
    @cli_entry
    def main() -> int:
        raise UserError("first line\nsecond line")

    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2 and capsys.readouterr().err == "error: first line\n"
