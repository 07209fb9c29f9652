"""The store's session: engine, clock, transactions, change announcements and the schema check.

Every operation runs in one transaction (``read()`` or ``write()``), so nothing is half-written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DatabaseError, OperationalError, ProgrammingError

from crm_tui.store.clock import Clock
from crm_tui.store.db.engine import WRITE_OPTION, describe_url, make_engine
from crm_tui.store.db.notify import ChangeNotifier
from crm_tui.store.errors import (
    DatabaseBusy,
    DatabaseDamaged,
    DatabaseUnavailable,
    SchemaOutOfDate,
    SchemaTooNew,
    UsageError,
)
from crm_tui.store.schema.version import SCHEMA_HEAD

if TYPE_CHECKING:
    from crm_tui.store.db.live import ChangeWatcher

_CHANGED_KEY = "crm_changed"
"""``conn.info`` key of the customer ids a ``write()`` will announce after its commit."""
_EVERYTHING = -1
"""Stands for "too many customers to name" among those ids."""


def _busy(exc: OperationalError, label: str) -> DatabaseBusy | None:
    """The sentence for PostgreSQL's lock timeout (55P03) or statement timeout (57014)."""
    from crm_tui.store.db.engine import LOCK_TIMEOUT_MS, STATEMENT_TIMEOUT_MS

    state = getattr(exc.orig, "sqlstate", None)
    if state == "55P03":
        return DatabaseBusy(
            f"The database {label} is busy: another session has held a lock this command needs "
            f"for over {LOCK_TIMEOUT_MS // 1000} seconds (an unfinished transaction, perhaps at "
            "a psql prompt), so nothing was done; try again, or ask the database administrator "
            "to end that session."
        )
    if state == "57014" and "statement timeout" in str(exc.orig):
        return DatabaseBusy(
            f"The database {label} did not finish this command within "
            f"{STATEMENT_TIMEOUT_MS // 1000} seconds, so it was stopped and nothing was done; "
            "try again when the database is less busy."
        )
    return None


_FILE_ACCESS = ("SQLite writes beside the file, in its -wal and -shm files, even to read: check "
                "that you may write the file and its folder")


def is_known_revision(revision: str) -> bool:
    """Whether ``revision`` is one of this crm's migrations (else a newer crm made it)."""
    from pathlib import Path

    versions = Path(__file__).parent.parent / "schema" / "migrations" / "versions"
    return any(path.name.split("_", 1)[0] == revision for path in versions.glob("*.py"))


class Session:
    """Engine, clock and transactions: what every other part of the store runs on."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock | None = None,
        engine: Engine | None = None,
        check_schema: bool = True,
    ) -> None:
        self.url = url
        self.engine = engine or make_engine(url)
        self.clock = clock or Clock()
        self.backend = self.engine.dialect.name
        self.label = describe_url(url)
        # SQLite clients poll PRAGMA data_version (live.py): nothing to send.
        self.notifier = None if self.backend == "sqlite" else ChangeNotifier(self.engine)
        if check_schema:
            self.ensure_current()

    # --- transactions -------------------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A short read transaction; the connection goes back to the pool at once after."""
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except OperationalError as exc:
            raise self._unavailable(exc) from exc

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite): all of it or none of it.

        The customers it reports with ``_changed`` are announced to other clients only after
        it committed (PostgreSQL; ``notify.ChangeNotifier`` says why), and not at all if it
        rolled back.
        """
        changed: list[int] = []
        try:
            with self.engine.connect() as conn:
                conn.execution_options(**{WRITE_OPTION: True})
                conn.info[_CHANGED_KEY] = changed
                try:
                    with conn.begin():
                        yield conn
                finally:
                    conn.info.pop(_CHANGED_KEY, None)
        except OperationalError as exc:
            raise self._unavailable(exc) from exc
        if changed and self.notifier is not None:
            self.notifier.add(None if _EVERYTHING in changed else changed)

    def _changed(self, conn: Connection, customer_ids: Iterable[int] | None) -> None:
        """Tell other clients these customers changed (None: too many to name), once this
        ``write()`` commits (PostgreSQL NOTIFY; SQLite clients poll and need nothing)."""
        pending: list[int] = conn.info[_CHANGED_KEY]
        if customer_ids is None:
            pending.append(_EVERYTHING)
        else:
            pending.extend(customer_ids)

    def _unavailable(self, exc: OperationalError) -> DatabaseUnavailable | DatabaseBusy:
        busy = _busy(exc, self.label)
        if busy is not None:
            return busy
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        return DatabaseUnavailable(f"The database {self.label} cannot be used: {reason}.")

    def watch(self, on_change: Callable[[frozenset[int] | None], None]) -> ChangeWatcher:
        """Report other clients' changes to ``on_change`` from now on (``live.py``, DESIGN §6);
        ``stop()`` on the result ends it."""
        from crm_tui.store.db.live import ChangeWatcher

        watcher = ChangeWatcher(self, on_change)
        watcher.start()
        return watcher

    def close(self) -> None:
        if self.notifier is not None:
            self.notifier.close()
        self.engine.dispose()

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"

    # --- schema -------------------------------------------------------------------------------

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at, or None if it was never initialised."""
        return self._schema_state()[0]

    def _schema_state(self) -> tuple[str | None, set[str]]:
        """The revision and the names of the tables there, in one round trip.

        A file that is not a database at all is ``DatabaseDamaged`` (exit 2), not an
        unexpected error.
        """
        if self.is_sqlite:
            tables = "SELECT group_concat(name, ',') FROM sqlite_master WHERE type = 'table'"
        else:
            tables = ("SELECT string_agg(tablename, ',') FROM pg_catalog.pg_tables "
                      "WHERE schemaname = current_schema()")
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    text(f"SELECT (SELECT version_num FROM alembic_version), ({tables})")
                ).one()
        except (OperationalError, ProgrammingError) as exc:
            message = str(exc.orig or exc).lower()
            if "alembic_version" in message and ("no such table" in message or "does not exist" in message):
                return None, set()
            if "not a database" in message:
                raise self._damaged(exc) from None
            if self.is_sqlite and ("unable to open" in message or "readonly" in message):
                raise UsageError(f"The database {self.label} cannot be opened "
                                 f"({_FILE_ACCESS}).") from None
            if isinstance(exc, OperationalError):
                raise self._unavailable(exc) from exc
            raise
        except DatabaseError as exc:  # "file is not a database", "malformed"
            raise self._damaged(exc) from None
        return row[0], set(str(row[1] or "").split(","))

    def _damaged(self, exc: DatabaseError) -> DatabaseDamaged:
        reason = str(exc.orig or exc).strip().splitlines()[0].rstrip(".")
        return DatabaseDamaged(
            f"The database {self.label} cannot be read ({reason}): it is not a crm database "
            "or it is damaged; check --db, or restore it from a backup."
        )

    def ensure_current(self) -> None:
        """Refuse to work on a database that is not at this version's schema, was made by a
        newer crm, or lacks one of its tables; never alter it."""
        revision, present = self._schema_state()
        if revision is None:
            raise SchemaOutOfDate(
                f"The database {self.label} is not initialised: run `crm init` first."
            )
        if revision != SCHEMA_HEAD:
            if not is_known_revision(revision):
                raise SchemaTooNew(
                    f"The database {self.label} is at schema {revision}, which is newer than "
                    f"this crm knows (it needs {SCHEMA_HEAD}): upgrade crm itself; "
                    "`crm db upgrade` cannot help."
                )
            raise SchemaOutOfDate(
                f"The database {self.label} is at schema {revision}, this crm needs {SCHEMA_HEAD}: "
                "run `crm db upgrade`."
            )
        from crm_tui.store.schema.tables import metadata

        missing = sorted(set(metadata.tables) - present)
        if missing:
            raise DatabaseDamaged(
                f"The database {self.label} has no table {', '.join(missing)}: it is damaged; "
                "restore it from a backup."
            )

    def after_init(self) -> None:
        """Backend set-up after migrations in ``crm init`` (PostgreSQL roles and policies)."""
