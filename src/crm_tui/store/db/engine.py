"""Engines for SQLite and PostgreSQL, configured the way DESIGN §6 and §11 require.

SQLite: ``busy_timeout`` first on every connection, foreign keys on, and transactions begun by
us — ``BEGIN IMMEDIATE`` for writes (a deferred read that upgrades to a write fails at once with
SQLITE_BUSY, ignoring the timeout), plain ``BEGIN`` for reads. WAL is switched on once, when the
database is created (``enable_wal``), because setting it on every connect can itself fail.
PostgreSQL: psycopg 3 with a small pool whose idle connections are pinged before use, so a
restarted server is reconnected to; every session carries a lock timeout and a statement timeout
(``LOCK_TIMEOUT_MS``, ``STATEMENT_TIMEOUT_MS``), so one session holding a lock cannot freeze
everyone else's commands.
"""

from __future__ import annotations

import os
import select
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

from crm_tui.store.errors import NotFound, UsageError

BUSY_TIMEOUT_MS = 30_000
LOCK_TIMEOUT_MS = 5_000
"""PostgreSQL: how long a statement waits for a lock another session holds (a colleague's open
transaction, or a ``LOCK TABLE`` at a psql prompt) before the command fails with a sentence."""
STATEMENT_TIMEOUT_MS = 300_000
"""PostgreSQL: the longest any one statement of the app may run."""
PING_AFTER_IDLE_SECONDS = 30.0
_IDLE_SINCE = "crm_idle_since"
WRITE_OPTION = "crm_write"


def normalise_url(url: str) -> str:
    """Turn a plain path, ``sqlite:///``, ``postgresql://`` or ``postgres://`` into a SQLAlchemy URL."""
    url = url.strip()
    if not url:
        raise UsageError("The database URL is empty.")
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("postgresql+"):
        return url
    if url.startswith("sqlite:"):
        _refuse_sqlite_options(url, url.split("?", 1)[0])
        return url
    if "://" in url:
        raise UsageError(f"Unsupported database URL {url!r}: use a file path, sqlite:/// or postgresql://.")
    _refuse_sqlite_options(url, url.split("?", 1)[0])
    return "sqlite:///" + str(Path(url).expanduser().resolve())


def _refuse_sqlite_options(url: str, file: str) -> None:
    """Refuse ``?mode=ro`` and the like after a SQLite path: the driver ignores them (so
    ``mode=ro`` would write), and a plain path would name a file ``a.db?mode=ro``."""
    if "?" in url:
        raise UsageError(
            f"The database {url!r} has options after '?', which crm does not take for SQLite: "
            f"name the file alone ({file!r}); to keep a database from being changed, make the "
            "file read-only."
        )


def is_sqlite(url: str) -> bool:
    return normalise_url(url).startswith("sqlite")


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL, or None for PostgreSQL or in-memory."""
    sa_url = make_url(normalise_url(url))
    if sa_url.get_backend_name() != "sqlite" or not sa_url.database or sa_url.database == ":memory:":
        return None
    return Path(sa_url.database)


def describe_url(url: str) -> str:
    """A short label for the header: the SQLite path, or PostgreSQL host/db (never a password)."""
    sa_url = make_url(normalise_url(url))
    if sa_url.get_backend_name() == "sqlite":
        return str(sa_url.database)
    host = sa_url.host or "localhost"
    return f"{host}/{sa_url.database}"


def make_engine(
    url: str, *, pool_size: int = 5, create: bool = False, timeouts: bool = True
) -> Engine:
    """Create the engine for ``url`` with the per-backend settings this module's docstring gives.

    A SQLite file that does not exist is made only with ``create`` (``crm init``): anywhere else a
    mistyped ``--db`` must not leave a directory and an empty database behind (SQLite would
    create the file on the first connect). ``timeouts=False`` leaves PostgreSQL's statement and
    lock timeouts off (migrations of a big book may run long).
    """
    sa_url = normalise_url(url)
    if sa_url.startswith("sqlite"):
        path = sqlite_path(sa_url)
        if path is not None and not path.exists():
            if not create:
                raise NotFound(
                    f"There is no database at {path}: check --db (or CRM_DATABASE_URL), "
                    "or create it with `crm init`."
                )
            os.makedirs(path.parent, exist_ok=True)
        engine = create_engine(sa_url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    connect_args: dict[str, Any] = {}
    if timeouts:
        # Sent with the connection's start-up packet: no round trip (issue 22).
        given = make_url(sa_url).query.get("options") or ""
        connect_args["options"] = " ".join(filter(None, [
            given if isinstance(given, str) else " ".join(given),
            f"-c lock_timeout={LOCK_TIMEOUT_MS}", f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        ]))
    try:
        engine = create_engine(sa_url, pool_size=pool_size, max_overflow=10, pool_recycle=1800,
                               connect_args=connect_args)
    except ModuleNotFoundError as exc:
        raise UsageError(
            "PostgreSQL support is not installed: pip install 'crm-tui[postgres]'."
        ) from exc
    _ping_idle_connections(engine)
    return engine


def _ping_idle_connections(engine: Engine) -> None:
    """Make sure a pooled connection is alive before handing it out, without a round trip when
    it plainly is (what ``pool_pre_ping`` does, made cheap).

    A server that restarted or dropped the connection has closed its end: the socket then reads
    as ready (end of file, or the server's farewell error) although we sent nothing. So the check
    is a zero-timeout ``select`` on the socket; only when it shows something, or the connection
    sat idle longer than ``PING_AFTER_IDLE_SECONDS`` (a network that died silently), is the
    server pinged, and a failed ping (``DisconnectionError``) makes the pool take a fresh
    connection. A real ping on every checkout was a round trip on every operation, a sixth of a
    claim's work with 16 clients (bench/bench_claims.py).
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is None:
            return  # a new connection
        try:
            stale = time.monotonic() - idle_since > PING_AFTER_IDLE_SECONDS
            if not stale:
                ready, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
                stale = bool(ready)
            if stale:
                engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # noqa: BLE001 - any failure means: this connection is gone
            raise DisconnectionError(str(exc)) from exc


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level: we emit BEGIN ourselves (see module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def enable_wal(engine: Engine) -> None:
    """Switch a SQLite database to WAL; a no-op on PostgreSQL. Persistent in the file."""
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()  # outside SQLAlchemy's autobegin: WAL needs no transaction
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()
    finally:
        raw.close()
