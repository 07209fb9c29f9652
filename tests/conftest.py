"""Fixtures: throwaway databases on SQLite (a file in tmp_path) and PostgreSQL.

PostgreSQL comes from ``CRM_TEST_DATABASE_URL`` (a superuser connection, such as
``postgresql://postgres@127.0.0.1/test``). Each test gets a fresh database cloned from a
migrated template. Without the variable the PostgreSQL cases skip — except under ``CI=true``,
where a missing server is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crm_tui.store import Actor, FixedClock, Store
from crm_tui.store.schema.setup import initialise

PG_ENV = "CRM_TEST_DATABASE_URL"
FIXED_NOW = datetime(2026, 6, 15, 9, 30, tzinfo=UTC)
BACKENDS = ["sqlite", "postgresql"]


def _pg_admin_url() -> str | None:
    return os.environ.get(PG_ENV) or None


def _pg_reachable(url: str) -> str | None:
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=5, autocommit=True) as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return str(exc)


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own config file and database never leak into a test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("CRM_CONFIG", str(home / "config.toml"))
    monkeypatch.delenv("CRM_DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated PostgreSQL template database, made once per session; yields the admin URL."""
    admin_url = _pg_admin_url()
    if admin_url is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{PG_ENV} is not set under CI: PostgreSQL tests must run")
        pytest.skip(f"{PG_ENV} not set")
    problem = _pg_reachable(admin_url)
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {admin_url} is unreachable under CI: {problem}")
        pytest.skip(f"PostgreSQL unreachable: {problem}")
    import psycopg

    name = f"crm_tpl_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    from crm_tui.store.schema import migrate as schema
    template_url = _with_db(admin_url, name)
    schema.upgrade(template_url)
    from crm_tui.store.db.engine import make_engine

    make_engine(template_url).dispose()
    yield name
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _with_db(url: str, database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url.replace("postgresql://", "postgresql+psycopg://", 1)).set(
        database=database
    ).render_as_string(hide_password=False).replace("postgresql+psycopg://", "postgresql://", 1)


def fresh_pg_database(template: str) -> tuple[str, Callable[[], None]]:
    import psycopg

    admin_url = _pg_admin_url()
    assert admin_url
    name = f"crm_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return _with_db(admin_url, name), drop


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated database URL on each backend (no reps yet)."""
    if request.param == "sqlite":
        url = str(tmp_path / "crm.db")
        from crm_tui.store.schema import migrate as schema
        schema.upgrade(url)
        yield url
        return
    template = request.getfixturevalue("pg_template")
    url, drop = fresh_pg_database(template)
    yield url
    drop()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A migrated SQLite database (for tests that are about SQLite itself)."""
    from crm_tui.store.schema import migrate as schema
    url = str(tmp_path / "crm.db")
    schema.upgrade(url)
    return url


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(FIXED_NOW)


@pytest.fixture
def store(db_url: str, clock: FixedClock) -> Iterator[Store]:
    """A store whose first admin is ``boss``; the clock stands at FIXED_NOW."""
    initialise(db_url, "boss", "The Boss", clock=clock)
    opened = Store(db_url, clock=clock)
    yield opened
    opened.close()


@pytest.fixture
def admin(store: Store) -> Actor:
    return store.actor("boss")


@pytest.fixture
def make_rep(store: Store, admin: Actor) -> Callable[..., Actor]:
    """Add a rep and return it as an Actor: ``make_rep("alice", role="manager", team="east")``."""

    def make(login: str, *, role: str = "rep", team: str | None = None, name: str | None = None) -> Actor:
        store.add_rep(admin, login, name or login.title(), role=role, team=team)
        return store.actor(login)

    return make
