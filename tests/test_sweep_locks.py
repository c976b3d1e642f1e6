"""The storage lock: one PostgreSQL advisory-lock key per experiment, so unrelated sweeps never wait on each other."""

from __future__ import annotations

import pytest

from harness.sweep.locks import lock_key, reading_lock, storage_lock
from tests.services import PG_HOST, PG_PORT, PG_USER, fresh_database, pg_url, postgres_skip_reason


def test_lock_keys_are_per_experiment_stable_and_fit_a_bigint() -> None:
    assert lock_key("digits-ablation") == lock_key("digits-ablation")
    assert lock_key("digits-ablation") != lock_key("toy-ring8")
    assert all(-(2**63) <= lock_key(name) < 2**63 for name in ("a", "b", "digits-ablation"))


def test_a_read_of_a_sqlite_store_makes_no_lock_file_and_a_write_does(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    with reading_lock(url, "ablation-a"):
        pass
    assert list(tmp_path.iterdir()) == []  # a refused command must leave no optuna.db.lock behind
    with storage_lock(url, "ablation-a"):
        pass
    assert [p.name for p in tmp_path.iterdir()] == ["optuna.db.lock"]


def test_a_sweep_holds_only_its_own_experiments_lock() -> None:
    reason = postgres_skip_reason()
    if reason:
        pytest.skip(reason)
    import psycopg2

    with fresh_database("harness_test_lock") as database:
        other = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=database)  # locks are per database
        try:
            with storage_lock(pg_url(database), "ablation-a"), other.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s), pg_try_advisory_xact_lock(%s)",
                               (lock_key("ablation-b"), lock_key("ablation-a")))
                free_b, free_a = cursor.fetchone()
                other.rollback()
        finally:
            other.close()
    assert free_b is True and free_a is False
