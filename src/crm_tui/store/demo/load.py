"""Writing the demo's rows in bulk: one fast path per backend.

SQLite: the driver's ``executemany`` in one large transaction, with the triggers and secondary
indexes dropped during the load and built once at the end, and on a fresh database the search
index built by a side process. PostgreSQL: ``COPY`` in one transaction, the search index
rebuilt at the end of a large load, then ``VACUUM (ANALYZE)``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from crm_tui.store.db.base import StoreBase
from crm_tui.store.demo.rows import (
    CONTACT_COLUMNS,
    CUSTOMER_COLUMNS,
    DEAL_COLUMNS,
    FOLLOW_UP_COLUMNS,
    OWNERSHIP_COLUMNS,
    TAG_COLUMNS,
    Batch,
)
from crm_tui.store.search import index_ddl as search_sql

Progress = Callable[[int, int], None]

BULK_TABLES = ("customer", "contact", "follow_up", "deal", "ownership_event", "customer_tag")


def sqlite_load(store: StoreBase, chunks: Iterator[Batch], progress: Progress | None,
                 total: int, *, fresh: bool = False, side: SideIndex | None = None) -> None:
    """One transaction: drop triggers and indexes, insert (indexing the search text chunk by
    chunk), build the indexes, recreate the triggers, commit.

    With a ``side`` index (fresh loads) the search text is indexed by another process and
    copied in by a second transaction after the first: in between, the new customers are not
    yet searchable (a fresh load normally holds the file under an exclusive lock meanwhile).

    ``fresh`` (no customer yet): the load leaves WAL for an in-memory rollback journal under an
    exclusive lock, so each page is written once (not to the WAL and again at the checkpoint);
    WAL is restored at the end. Skipped when another connection holds the database.
    """
    raw = store.engine.raw_connection()
    db = raw.driver_connection
    if not isinstance(db, sqlite3.Connection):
        raw.close()
        raise TypeError(f"a SQLite store's pool gave {type(db).__name__}, not a sqlite3 connection")
    bulk = False
    try:
        db.execute("PRAGMA cache_size = -1000000")
        db.execute("PRAGMA temp_store = MEMORY")
        db.execute("PRAGMA synchronous = OFF")
        if fresh:
            try:
                mode = db.execute("PRAGMA journal_mode = MEMORY").fetchone()[0]
            except Exception:  # another connection is using it: keep WAL  # noqa: BLE001
                mode = "wal"
            bulk = str(mode).lower() == "memory"
            if bulk:
                db.execute("PRAGMA locking_mode = EXCLUSIVE")
        db.execute("BEGIN IMMEDIATE")
        for trigger in search_sql.FTS_TRIGGERS:
            db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        # Secondary indexes are built once at the end (a sort) instead of row by row.
        indexes = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({', '.join('?' * len(BULK_TABLES))})", BULK_TABLES,
        ).fetchall()
        for name, _ in indexes:
            db.execute(f'DROP INDEX "{name}"')
        done = 0
        for batch in chunks:
            _sqlite_insert(db, "customer", CUSTOMER_COLUMNS, batch.customers)
            if batch.customers and side is None:
                # Indexed chunk by chunk (in C, from the rows just written) while the worker
                # draws the next chunk, rather than by one 'rebuild' after the last.
                db.execute(search_sql.FTS_INSERT_RANGE,
                           (batch.customers[0][0], batch.customers[-1][0]))
            _sqlite_insert(db, "contact", CONTACT_COLUMNS, batch.contacts)
            _sqlite_insert(db, "follow_up", FOLLOW_UP_COLUMNS, batch.follow_ups)
            _sqlite_insert(db, "deal", DEAL_COLUMNS, batch.deals)
            _sqlite_insert(db, "ownership_event", OWNERSHIP_COLUMNS, batch.ownership)
            _sqlite_insert(db, "customer_tag", TAG_COLUMNS, batch.tags)
            done += len(batch.customers)
            if progress:
                progress(done, total)
        for _, index_sql in indexes:
            db.execute(index_sql)
        for trigger_sql in search_sql.FTS_TRIGGERS.values():
            db.execute(trigger_sql)
        db.execute("COMMIT")
        if side is not None:
            side.copy_into(db)
        # Sampled statistics (about 1,000 rows an index) plan as well as a full scan of
        # millions of rows, in a tenth of the time.
        db.execute("PRAGMA analysis_limit=1000")
        db.execute("ANALYZE")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    finally:
        try:
            if bulk:
                db.execute("PRAGMA locking_mode = NORMAL")
                db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA cache_size = -2000")
        finally:
            raw.close()


class SideIndex:
    """The search index of a fresh load, built by a third process in a side file.

    The worker hands each chunk's (id, search_text) to this process, which indexes them into an
    FTS5 table of the same definition, alongside the writer's inserts and index builds (which
    leave a core partly idle). The side file is its own database, never attached to the writer
    while this process writes it (a writer's transaction would lock it). The writer then copies the finished FTS5 shadow tables (the index itself)
    into its empty ``customer_fts``: a plain copy of pages instead of tokenising a million rows
    on the writer's core. If the process failed, the writer rebuilds the index itself.
    """

    def __init__(self, context: Any) -> None:
        import tempfile

        handle, self.path = tempfile.mkstemp(prefix="crm-demo-fts-", suffix=".db")
        os.close(handle)
        db = sqlite3.connect(self.path)
        try:
            db.execute("CREATE TABLE customer (id INTEGER PRIMARY KEY, search_text TEXT)")
            db.execute(search_sql.FTS_TABLE)
            db.commit()
        finally:
            db.close()
        self.queue = context.Queue(maxsize=8)
        self.process = context.Process(target=_index_side,
                                       args=(self.path, self.queue, os.getpid()), daemon=True)
        self.process.start()

    def copy_into(self, db: sqlite3.Connection) -> None:
        self.process.join()
        if self.process.exitcode != 0:
            db.execute("BEGIN IMMEDIATE")
            db.execute(search_sql.FTS_REBUILD)
            db.execute("COMMIT")
            return
        shadows = [name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'customer_fts_%' "
            "AND name <> 'customer_fts_config'")]
        db.execute("ATTACH DATABASE ? AS fts_side", (self.path,))
        try:
            db.execute("BEGIN IMMEDIATE")
            for name in shadows:
                db.execute(f"DELETE FROM main.{name}")
                db.execute(f"INSERT INTO main.{name} SELECT * FROM fts_side.{name}")
            db.execute("COMMIT")
        finally:
            if db.in_transaction:
                db.execute("ROLLBACK")
            db.execute("DETACH DATABASE fts_side")

    def close(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()
        for suffix in ("", "-journal"):
            with contextlib.suppress(OSError):
                os.unlink(self.path + suffix)


def _index_side(path: str, queue: Any, parent: int | None = None) -> None:
    from crm_tui.store.children import die_with_parent

    die_with_parent(parent)  # a killed crm init --demo leaves no indexer behind
    failure: BaseException | None = None
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.execute("PRAGMA cache_size = -262144")
        db.execute("BEGIN")
    except BaseException as exc:  # reported by the exit code, after draining the queue
        failure = exc
    while (rows := queue.get()) is not None:
        if failure is None:
            try:
                db.executemany("INSERT INTO customer_fts(rowid, search_text) VALUES (?, ?)", rows)
            except BaseException as exc:  # keep draining: the worker must never block on us
                failure = exc
    try:
        if failure is None:
            db.execute("COMMIT")
    finally:
        db.close()
    if failure is not None:
        raise failure


def _sqlite_insert(db: sqlite3.Connection, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    if rows:
        marks = ", ".join("?" * len(columns))
        db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


def postgresql_load(store: StoreBase, chunks: Iterator[Batch], progress: Progress | None,
                     total: int) -> None:
    import psycopg

    raw = store.engine.raw_connection()
    pg = raw.driver_connection
    if not isinstance(pg, psycopg.Connection):
        raw.close()
        raise TypeError(f"a PostgreSQL store's pool gave {type(pg).__name__}, not a psycopg connection")
    try:
        drop_index = total >= 50_000
        with pg.transaction(), pg.cursor() as cur:
            if drop_index:
                cur.execute(search_sql.PG_DROP_SEARCH_INDEX)
            done = 0
            for batch in chunks:
                for table, columns, rows in (
                    ("customer", CUSTOMER_COLUMNS, batch.customers),
                    ("contact", CONTACT_COLUMNS, batch.contacts),
                    ("follow_up", FOLLOW_UP_COLUMNS, batch.follow_ups),
                    ("deal", DEAL_COLUMNS, batch.deals),
                    ("ownership_event", OWNERSHIP_COLUMNS, batch.ownership),
                    ("customer_tag", TAG_COLUMNS, batch.tags),
                ):
                    if rows:
                        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                            for row in rows:
                                copy.write_row(row)
                done += len(batch.customers)
                if progress:
                    progress(done, total)
            cur.execute("SELECT setval(pg_get_serial_sequence('customer', 'id'), "
                        "(SELECT max(id) FROM customer))")
            if drop_index:
                cur.execute("SET LOCAL maintenance_work_mem = '512MB'")
                cur.execute(search_sql.PG_SEARCH_INDEX)
        pg.commit()
        # VACUUM, not only ANALYZE: freshly copied rows are not yet all-visible, so until
        # autovacuum came by, index-only scans (the dashboard's open-sea weeks, counts over
        # the ownership indexes) visited the table for every row: 0.43 s instead of 0.05 s.
        pg.autocommit = True
        try:
            pg.execute("VACUUM (ANALYZE)")
        finally:
            pg.autocommit = False
    finally:
        raw.close()
