"""Migrations and models agree; an old or missing schema is reported, never altered."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import CheckConstraint, MetaData, UniqueConstraint

from crm_tui.store import SchemaOutOfDate, Store
from crm_tui.store.schema import migrate as schema
from crm_tui.store.schema.version import SCHEMA_HEAD


def test_schema_head_constant_matches_migrations():
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(schema._config())
    assert script.get_current_head() == SCHEMA_HEAD


def test_alembic_check_finds_no_drift(db_url):
    """`alembic check`: autogenerate against the migrated database proposes nothing."""
    from alembic import command

    from crm_tui.store.db.engine import make_engine

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
    """A database without the schema (here an empty SQLite file) asks for ``crm init``."""
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    with pytest.raises(SchemaOutOfDate, match="crm init"):
        Store(str(path))


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


def _shape(metadata: MetaData) -> dict[str, object]:
    shape: dict[str, object] = {}
    for name, table in metadata.tables.items():
        columns = [
            (c.name, str(c.type), c.nullable, c.primary_key, bool(c.unique),
             str(c.server_default.arg) if c.server_default is not None else None,  # type: ignore[attr-defined]  # a DefaultClause has .arg; FetchedValue (not used) would not
             sorted((fk.target_fullname, fk.ondelete) for fk in c.foreign_keys))
            for c in table.columns
        ]
        indexes = sorted((i.name, tuple(c.name for c in i.columns), bool(i.unique)) for i in table.indexes)
        constraints = sorted((type(k).__name__, str(k.name), tuple(c.name for c in k.columns),
                              str(getattr(k, "sqltext", "")))
                             for k in table.constraints
                             if isinstance(k, UniqueConstraint | CheckConstraint))
        shape[name] = (columns, indexes, constraints)
    return shape


def test_core_tables_are_generated_from_the_models():
    """tables.py is written from models.py by a command; committing a stale one fails here."""
    from crm_tui.store.schema.generate_tables import COMMAND, stale_diff

    diff = stale_diff()
    if diff:
        pytest.fail(f"src/crm_tui/store/schema/tables.py is stale: run `{COMMAND}`\n"
                    + "".join(diff[:60]), pytrace=False)


def test_core_tables_mirror_the_sqlmodel_models():
    """The store queries Core tables (fast to import); they must be the models' exact twin."""
    from crm_tui.store.schema import models, tables
    assert _shape(tables.metadata) == _shape(models.metadata)


def test_the_generator_renders_what_new_tables_may_use():
    """Constructs the current models do not use yet render to the same schema, so a new table
    with them needs no hand edit; one it cannot render stops it with a message."""
    from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, text
    from sqlalchemy.types import TypeDecorator

    from crm_tui.store.schema.core_types import NAMING_CONVENTION
    from crm_tui.store.schema.generate_tables import UnrenderableSchema, render

    source = MetaData(naming_convention=NAMING_CONVENTION)
    Table("pool", source, Column("id", Integer(), primary_key=True),
          Column("code", String(8), nullable=False))
    Table("ticket", source,
          Column("id", Integer(), primary_key=True),
          Column("pool_id", Integer(), ForeignKey("pool.id", ondelete="SET NULL"), index=True),
          Column("state", String(16), nullable=False, server_default=text("'open'")),
          Column("points", Integer(), nullable=False, server_default="0"),
          UniqueConstraint("pool_id", "state"),
          CheckConstraint("points >= 0", name="points_not_negative"),
          Index("ix_ticket_state_points", "state", "points", unique=True))
    namespace: dict[str, object] = {}
    exec(compile(render(source), "tables.py", "exec"), namespace)
    assert _shape(namespace["metadata"]) == _shape(source)  # type: ignore[arg-type]  # exec's namespace is untyped

    class Odd(TypeDecorator[str]):
        impl = String
        cache_ok = True

    strange = MetaData()
    Table("odd", strange, Column("id", Integer(), primary_key=True), Column("x", Odd()))
    with pytest.raises(UnrenderableSchema, match="odd.x"):
        render(strange)


def test_opening_a_store_imports_no_orm():
    import subprocess
    import sys

    code = (
        "import sys, crm_tui.store;"
        "print(sorted(m for m in ('sqlmodel', 'pydantic', 'sqlalchemy.orm') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
