"""Who is acting: the rep behind a login, and the rep-row lock that orders one rep's changes.

The acting rep is always passed in explicitly as an ``Actor``; only ``crm_tui.config`` decides
who that is (DESIGN §2, §5).
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Connection, Select, bindparam, select, text

from crm_tui.store.db.session import Session
from crm_tui.store.errors import NotFound, RuleRefused, UnknownRep
from crm_tui.store.records import Actor
from crm_tui.store.schema.tables import rep as rep_t

_S = TypeVar("_S", bound=Select[Any])


def locking_rep(statement: _S) -> _S:
    """``statement`` (which reads the ``rep`` table) taking the rep-row lock of ``_lock_rep``.

    ``FOR NO KEY UPDATE``: it orders one rep's claims, adds, locks and moves, yet lets other
    transactions insert rows that refer to the rep (history, follow-ups), which ``FOR UPDATE``
    would make wait, and could deadlock against. PostgreSQL only: SQLite's write transaction
    (``BEGIN IMMEDIATE``) already serialises every writer.
    """
    return statement.with_for_update(of=rep_t, key_share=True)


_LOCK_REP = locking_rep(select(rep_t.c.id).where(rep_t.c.id == bindparam("rep")))


class Identity(Session):
    """Reps by login, and the lock that makes one rep's cap and limit checks race-free."""

    def actor(self, login: str) -> Actor:
        """The rep whose login is ``login``; an unknown or inactive one is a clear error."""
        with self.read() as conn:
            row = conn.execute(select(rep_t).where(rep_t.c.login == login)).first()
        if row is None:
            raise UnknownRep(
                f"{login!r} is not a rep of this CRM: an admin can add you with "
                f"`crm reps add {login} --name NAME`."
            )
        actor = Actor(row.id, row.login, row.name, row.role, row.team, row.active)
        if not actor.active:
            raise UnknownRep(f"The rep {login!r} has been deactivated.")
        return actor

    # --- notes for the person running the command ---------------------------------------------

    @property
    def security_notes(self) -> list[str]:
        """Sentences for the person running the command (the CLI prints them on stderr): how a
        newly added rep will be identified, and role provisioning that did not happen."""
        return self.__dict__.setdefault("_security_notes", [])

    def _note(self, message: str) -> None:
        self.security_notes.append(message)

    def database_user(self) -> str | None:
        """PostgreSQL's ``current_user`` (the acting rep there); None on SQLite."""
        if self.is_sqlite:
            return None
        with self.read() as conn:
            return conn.execute(text("SELECT current_user")).scalar()

    def _rep_by_login(self, conn: Connection, login: str) -> Any:
        row = conn.execute(select(rep_t).where(rep_t.c.login == login)).first()
        if row is None:
            raise NotFound(f"There is no rep with the login {login!r}.")
        return row

    def _require_active(self, conn: Connection, actor: Actor) -> None:
        active = conn.execute(select(rep_t.c.active).where(rep_t.c.id == actor.id)).scalar()
        if not active:
            raise RuleRefused("active", f"The rep {actor.login} is deactivated.")

    def _lock_rep(self, conn: Connection, rep_id: int) -> None:
        """Serialise one rep's claims, adds, locks and moves, so the checks of their cap and
        daily limit count what is committed (``locking_rep`` says which lock; the claim takes
        the same lock in its first read instead, to save a round trip)."""
        if not self.is_sqlite:
            conn.execute(_LOCK_REP, {"rep": rep_id})
