"""What every move between the seas shares: moving customers to the open sea, locking rows in
id order, and the records a move returns.

Deals on a move (release, recycle, claim, assign, transfer, a rep deactivated): open deals
follow their customer, at the stage they are in: to the new owner, or to nobody (``deal.owner_id``
null, which the schema allows) while the customer is in the open sea, so no open deal stays with
a rep who can no longer see its customer and the next owner finds it in their pipeline. Won and
lost deals keep the rep who closed them, for the record. The rule is written once, in the one
writer every move's ``ownership_event`` goes through (``db/history.py``: ``deals_that_follow``);
the PostgreSQL claim runs it as a CTE of its single statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from crm_tui.store.db.base import StoreBase, customer_select, customer_t, customer_tag_t, tag_t
from crm_tui.store.records import Actor, CustomerRecord

_ID_CHUNK = 2000
"""Ids per ``IN (...)`` list: well inside SQLite's and PostgreSQL's parameter limits."""

_TAGS = (
    select(tag_t.c.name).join(customer_tag_t, customer_tag_t.c.tag_id == tag_t.c.id)
    .where(customer_tag_t.c.customer_id == bindparam("cid")).order_by(tag_t.c.name)
)


def chunks(ids: Sequence[int], size: int = _ID_CHUNK) -> Iterable[Sequence[int]]:
    """``ids`` in slices small enough for one ``IN (...)`` list."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def local_day(moment: datetime) -> str:
    """The calendar day of ``moment`` where the user is, as ``YYYY-MM-DD``."""
    return moment.astimezone().date().isoformat()


def who(name: str | None, login: str | None) -> str:
    """How a rep is named in a sentence: ``Alice Wang (alice)``, or the login alone."""
    if not login:
        return "someone"
    if name and name != login:
        return f"{name} ({login})"
    return login


def locked_in_id_order(*conditions: Any, skip_locked: bool = False) -> Any:
    """``customer.id IN (SELECT id … ORDER BY id FOR NO KEY UPDATE)`` for a multi-row move.

    PostgreSQL then locks the rows in id order, so two moves of overlapping customers (a
    transfer and a deactivation, say) wait for each other instead of deadlocking; recycling
    passes ``skip_locked`` and leaves a customer someone is busy with to its next run. SQLite
    (which serialises writers anyway) ignores the locking clause.
    """
    return customer_t.c.id.in_(
        select(customer_t.c.id).where(*conditions).order_by(customer_t.c.id)
        .with_for_update(key_share=True, skip_locked=skip_locked)
    )


class Moves(StoreBase):
    """Moving customers to the open sea, and reading back what a move changed."""

    def _to_pool(
        self,
        conn: Connection,
        actor: Actor | None,
        customer_ids: Sequence[int],
        from_id: int,
        reason: str | None,
        *,
        kind: str,
    ) -> list[int]:
        """Move customers of rep ``from_id`` to the open sea; returns the ids actually moved."""
        now = self.clock.now()
        moved: list[int] = []
        for chunk in chunks(list(customer_ids)):
            owned = [customer_t.c.id.in_(chunk), customer_t.c.owner_id == from_id]
            statement = update(customer_t).where(*owned, locked_in_id_order(*owned))
            moved += conn.execute(
                statement.values(
                    owner_id=None, claimed_at=None, pool_entered_at=now,
                    released_by_id=actor.id if actor else None, release_reason=reason,
                    locked=False, next_follow_up_at=None, updated_at=now,
                    updated_by_id=actor.id if actor else None, version=customer_t.c.version + 1,
                ).returning(customer_t.c.id)
            ).scalars().all()
        if moved:
            self._ownership(conn, moved, kind, actor, from_id, None, reason, at=now)
            self._audit_owner_change(conn, actor, moved, kind, from_id, None, at=now)
            self._changed(conn, moved)
        return moved

    def _fresh_record(self, conn: Connection, actor: Actor, customer_id: int) -> CustomerRecord:
        row = conn.execute(customer_select().where(customer_t.c.id == customer_id)).one()
        return self._records(conn, [row], actor)[0]

    def _owned_record(self, conn: Connection, customer_id: int) -> CustomerRecord:
        """The record of a customer that has an owner (so nothing is masked): two reads."""
        row = conn.execute(customer_select().where(customer_t.c.id == customer_id)).one()
        return self._record(row, self._tags(conn, customer_id), False)

    @staticmethod
    def _tags(conn: Connection, customer_id: int) -> list[str]:
        return list(conn.execute(_TAGS, {"cid": customer_id}).scalars())
