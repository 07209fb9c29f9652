"""Migrations and models agree; an old or missing schema is reported, never altered."""

from __future__ import annotations

import sqlite3

import pytest

from crm_tui.store import SchemaOutOfDate, Store, schema
from crm_tui.store.schema_version import SCHEMA_HEAD


def test_schema_head_constant_matches_migrations():
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(schema._config())
    assert script.get_current_head() == SCHEMA_HEAD


def test_alembic_check_finds_no_drift(db_url):
    """`alembic check`: autogenerate against the migrated database proposes nothing."""
    from alembic import command

    from crm_tui.store.engine import make_engine

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            command.check(schema._config(conn))
    finally:
        engine.dispose()


def test_upgrade_is_idempotent(db_url):
    assert schema.upgrade(db_url).up_to_date
    assert schema.upgrade(db_url).up_to_date
    assert schema.status(db_url).pending == []


def test_uninitialised_database_says_run_init(tmp_path):
    with pytest.raises(SchemaOutOfDate, match="crm init"):
        Store(str(tmp_path / "empty.db"))


def test_older_database_says_upgrade_and_is_left_alone(sqlite_url):
    path = sqlite_url
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0000'")
        before = conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    with pytest.raises(SchemaOutOfDate, match="crm db upgrade"):
        Store(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0000",)
        assert conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == before


def test_sqlite_database_is_in_wal_mode(sqlite_url):
    with sqlite3.connect(sqlite_url) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
