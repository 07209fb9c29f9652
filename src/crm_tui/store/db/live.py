"""Change notifications from other clients, for live lists (DESIGN §6): no Textual here.

``ChangeWatcher`` runs one daemon thread with its own connection and calls ``on_change(ids)``
from that thread (``ids`` is None when unknown) whenever customers changed:

- SQLite: ``PRAGMA data_version`` polled every ``interval`` seconds on a dedicated connection in
  autocommit mode, so no read transaction stays open between polls (an idle reader would hold
  back WAL checkpoints). The value changes when any *other* connection commits.
- PostgreSQL: ``LISTEN crm_changes`` on a dedicated psycopg connection (``notifies()`` blocks
  other statements on its connection, DESIGN §11); the store's ``_changed()`` sends the ids.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from crm_tui.store.db.engine import normalise_url, sqlite_path
from crm_tui.store.db.notify import CHANNEL

if TYPE_CHECKING:
    from crm_tui.store.db.session import Session

POLL_SECONDS = 0.5
RETRY_SECONDS = 2.0

log = logging.getLogger("crm.live")

ChangeCallback = Callable[[frozenset[int] | None], None]


def parse_payload(payload: str) -> frozenset[int] | None:
    """``"3,17,42"`` → ids; ``"*"`` or anything unreadable → None (reload everything)."""
    try:
        ids = frozenset(int(part) for part in payload.split(",") if part.strip())
    except ValueError:
        return None
    return ids or None


class ChangeWatcher:
    """Watches one database for changes made by other connections and reports them."""

    def __init__(self, store: Session, on_change: ChangeCallback, *, interval: float = POLL_SECONDS) -> None:
        self.url = store.url
        self.is_sqlite = store.is_sqlite
        self.on_change = on_change
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()
        """Set once connected and the first reading is taken: every commit after it is reported."""

    def start(self) -> None:
        """Start watching in a daemon thread (connecting happens there, not in the caller)."""
        target = self._poll_sqlite if self.is_sqlite else self._listen_postgres
        self._thread = threading.Thread(target=target, name="crm-change-watcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- SQLite ---------------------------------------------------------------------------------

    def _poll_sqlite(self) -> None:
        path = sqlite_path(self.url)
        if path is None:
            return
        while not self._stop.is_set():
            try:
                self._poll_sqlite_file(str(path))
            except sqlite3.Error as exc:
                log.warning("change watcher: %s; retrying", exc)
            self._stop.wait(RETRY_SECONDS)

    def _poll_sqlite_file(self, path: str) -> None:
        # Read-only, autocommit: each PRAGMA is its own statement, no transaction is left open.
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                               check_same_thread=False)
        try:
            seen = conn.execute("PRAGMA data_version").fetchone()[0]
            self.listening.set()
            while not self._stop.wait(self.interval):
                version = conn.execute("PRAGMA data_version").fetchone()[0]
                if version != seen:
                    seen = version
                    self.on_change(None)
        finally:
            conn.close()

    # --- PostgreSQL -----------------------------------------------------------------------------

    def _conninfo(self) -> str:
        from sqlalchemy.engine import make_url

        url = make_url(normalise_url(self.url)).set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    def _listen_postgres(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen_once()
            except Exception as exc:  # noqa: BLE001 - a lost connection is retried, never fatal
                log.warning("change watcher: %s; retrying", exc)
            self._stop.wait(RETRY_SECONDS)

    def _listen_once(self) -> None:
        import psycopg

        with psycopg.connect(self._conninfo(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self.listening.set()
            while not self._stop.is_set():
                for notice in conn.notifies(timeout=self.interval):
                    self.on_change(parse_payload(notice.payload))
