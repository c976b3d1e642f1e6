"""A store's schema against its application's signature: empty or whole and current passes; another
application's tables, part of the tables and another version are refused; reading writes nothing."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from harness.core.errors import ConfigError
from harness.stores.schema import ALEMBIC, Contents, Signature, Version, check_schema, read_contents, schema_problem
from tests.services import fresh_database, pg_url, postgres_skip_reason

REVISION = Version(ALEMBIC, "version_num", "v2", frozenset({"v1"}))
APP = Signature("App", frozenset({"things", "parts", ALEMBIC}), (REVISION,), "app upgrade {url}")


def problem(tables: tuple[str, ...], revisions: tuple[str, ...] = ("v2",)) -> str | None:
    return schema_problem(Contents(tables, {REVISION: revisions} if ALEMBIC in tables else {}), APP, "db://x")


def test_an_empty_store_and_a_whole_current_one_pass() -> None:
    assert problem(()) is None
    assert problem(("alembic_version", "parts", "things")) is None
    assert problem(("alembic_version", "extra", "parts", "things")) is None  # tables beside the owner's are fine


def test_another_applications_tables_are_named() -> None:
    assert problem(("a", "b", "c", "d", "e")) == "is not App's database: it holds other tables (a, b, c, d, ...)"
    assert problem(("alembic_version",)) == "is not App's database: it holds other tables (alembic_version)"


def test_part_of_the_tables_is_refused_naming_what_is_missing() -> None:
    assert problem(("things", "users")) == ("is not a whole App database: it lacks alembic_version, parts (2 of "
                                            "App's 3 tables): another application's database, or a damaged store")


def test_an_older_version_is_refused_with_the_way_to_upgrade_even_without_the_later_tables() -> None:
    older = ("was written by an older version of App (alembic_version.version_num is 'v1', this one expects 'v2'): "
             "back it up, then upgrade it with `app upgrade db://x`")
    assert problem(("alembic_version", "parts", "things"), ("v1",)) == older
    assert problem(("alembic_version", "things"), ("v1",)) == older  # `parts` came with v2


@pytest.mark.parametrize(("revisions", "shown"), [(("v3",), "'v3'"), ((), "empty"), (("v1", "v2"), "'v1', 'v2'")])
def test_another_version_is_refused(revisions: tuple[str, ...], shown: str) -> None:
    assert problem(("alembic_version", "parts", "things"), revisions) == (
        f"was written by another version of App (alembic_version.version_num is {shown}, this one expects 'v2'): "
        "open it with the App that wrote it, or use another store")


def sqlite_store(path: Path, *statements: str) -> None:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        for statement in statements:
            connection.execute(statement)
        connection.commit()


def test_a_sqlite_store_is_read_without_writing_and_a_missing_one_is_not_created(tmp_path: Path) -> None:
    assert read_contents(f"sqlite:///{tmp_path / 'absent.db'}", (REVISION,)) == Contents((), {})
    assert list(tmp_path.iterdir()) == []
    db = tmp_path / "app.db"
    sqlite_store(db, "CREATE TABLE things (id INTEGER)", "CREATE TABLE parts (id INTEGER)",
                 "CREATE TABLE alembic_version (version_num TEXT)", "INSERT INTO alembic_version VALUES ('v2')")
    before = db.read_bytes()
    assert read_contents(f"sqlite:///{db}", (REVISION,)) == Contents(("alembic_version", "parts", "things"),
                                                                     {REVISION: ("v2",)})
    assert check_schema("app.store", f"sqlite:///{db}", APP) is True
    assert check_schema("app.store", f"sqlite:///{tmp_path / 'absent.db'}", APP) is False
    assert db.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]


def test_a_version_table_without_its_column_reads_as_another_version(tmp_path: Path) -> None:
    """SQLite reads a quoted column that does not exist as a string: the query names it unquoted."""
    db = tmp_path / "app.db"
    sqlite_store(db, "CREATE TABLE things (id INTEGER)", "CREATE TABLE parts (id INTEGER)",
                 "CREATE TABLE alembic_version (other TEXT)", "INSERT INTO alembic_version VALUES ('v2')")
    with pytest.raises(ConfigError, match=r"^app.store: 'sqlite:///.*app.db': was written by another version of "
                                          r"App \(alembic_version.version_num is 'unreadable \(no such column"):
        check_schema("app.store", f"sqlite:///{db}", APP)


def test_a_damaged_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "app.db").write_bytes(b"SQLite format 3\x00" + b"x" * 100)
    with pytest.raises(ConfigError, match=r"^app.store: 'sqlite:///.*app.db': is not a readable SQLite database"):
        check_schema("app.store", f"sqlite:///{tmp_path / 'app.db'}", APP)


def test_a_postgresql_store_is_read_and_an_unreachable_one_is_one_line() -> None:
    if reason := postgres_skip_reason():
        pytest.skip(reason)
    import psycopg2

    with fresh_database("harness_test_schema") as database:
        with contextlib.closing(psycopg2.connect(pg_url(database, driver="postgresql"))) as connection:
            connection.autocommit = True
            connection.cursor().execute("CREATE TABLE things (id INTEGER); CREATE TABLE parts (id INTEGER); "
                                        "CREATE TABLE alembic_version (version_num TEXT); "
                                        "INSERT INTO alembic_version VALUES ('v1')")
        with pytest.raises(ConfigError, match="an older version of App .*is 'v1', this one expects 'v2'"):
            check_schema("app.store", pg_url(database), APP, timeout_s=5)
    with pytest.raises(ConfigError, match=r"^app.store: 'postgresql\+psycopg2://postgres@127.0.0.1:1/x': cannot "
                                          r"read its tables \(.*refused"):
        check_schema("app.store", "postgresql+psycopg2://postgres@127.0.0.1:1/x", APP, timeout_s=2)
