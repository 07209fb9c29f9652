"""Sending change notifications on PostgreSQL: after the commit, coalesced, off the writer's path.

Other clients learn of a change by ``LISTEN crm_changes`` (``live.ChangeWatcher``); the store
tells them with ``pg_notify`` once the write has committed. Two measured reasons shape this:

- A NOTIFY inside the writing transaction makes PostgreSQL serialise the commits of every
  notifying transaction (pgbench here: 300 commits/s with 16 clients, 1,400/s without).
- Sent by the writer after its commit it is one more round trip per write; in a burst of
  claims (bench/bench_claims.py: 16 processes) that round trip, its context switches and its
  server work are a fifth of a claim's cost, and the listeners wake once per write.

So a ``ChangeNotifier`` hands the ids to one daemon thread per store, which sends them at once
when it is idle and otherwise gathers what arrives within ``COALESCE_SECONDS`` into one
notification (the ids joined, or ``*`` past ``MAX_IDS``). A listener hears of a change within
milliseconds of its commit when writes are rare, and within ``COALESCE_SECONDS`` in a burst — far
inside the two seconds DESIGN §6 allows. ``flush()`` (called by ``Store.close()`` and at interpreter
exit) sends whatever is pending, so a short-lived ``crm claim`` never leaves its change untold.
If the process is killed before that, the change is committed and only its notice is lost; the
next notice or a reload shows it.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections.abc import Iterable
from typing import Literal

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

CHANNEL = "crm_changes"
COALESCE_SECONDS = 0.1
MAX_IDS = 500
"""More ids than this are announced as ``*`` ("reload everything"): a payload is under 8 kB."""

log = logging.getLogger("crm.notify")

_NOTIFY = text(f"SELECT pg_notify('{CHANNEL}', :payload)")


def payload(ids: set[int] | None) -> str:
    """``"3,17,42"`` for a few ids; ``"*"`` for many, or when the ids are unknown (None)."""
    if ids is None or len(ids) > MAX_IDS:
        return "*"
    return ",".join(str(cid) for cid in sorted(ids))


class ChangeNotifier:
    """Coalesces and sends ``crm_changes`` notifications for one engine, from its own thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pending: set[int] = set()
        self._everything = False
        self._wake = threading.Condition()
        self._sending = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        _live.add(self)

    def add(self, ids: Iterable[int] | None) -> None:
        """Announce these customers (None: too many or unknown) once their write committed."""
        with self._wake:
            if ids is None:
                self._everything = True
            else:
                self._pending.update(ids)
                if len(self._pending) > MAX_IDS:
                    self._everything = True
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="crm-notifier", daemon=True)
                self._thread.start()
            self._wake.notify()

    def flush(self) -> None:
        """Send what is pending now, in the caller's thread (waits for a send in flight)."""
        with self._sending:
            batch = self._take()
            if batch is not False:
                self._send(batch)

    def close(self) -> None:
        self.flush()
        with self._wake:
            self._closed = True
            self._wake.notify()

    # --- the sending thread ---------------------------------------------------------------------

    def _take(self) -> set[int] | None | Literal[False]:
        """The pending ids (None: everything), or False when nothing is pending."""
        with self._wake:
            if not self._everything and not self._pending:
                return False
            batch: set[int] | None = None if self._everything else self._pending
            self._pending, self._everything = set(), False
            return batch

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._everything and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
            self.flush()
            # What arrives while we rest goes out together, in the next notification.
            with self._wake:
                self._wake.wait_for(lambda: self._closed, timeout=COALESCE_SECONDS)

    def _send(self, batch: set[int] | None) -> None:
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.execute(_NOTIFY, {"payload": payload(batch)})
        except SQLAlchemyError:
            # The change itself is committed; listeners see it on their next notice or reload.
            log.warning("a change notification was lost", exc_info=True)


_live: weakref.WeakSet[ChangeNotifier] = weakref.WeakSet()


@atexit.register
def _flush_all() -> None:
    for notifier in list(_live):
        notifier.flush()
