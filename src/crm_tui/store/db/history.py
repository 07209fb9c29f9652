"""History: the ``ownership_event`` and ``audit_event`` rows every change writes (DESIGN §3, §4).

The rows are built in one place (``ownership_row``, ``audit_row``) and written by one writer
(``History._write_history``). Their values may be plain values, written as ``INSERT``s, or SQL
expressions, written by ``insert_selecting`` inside another statement: the PostgreSQL claim
writes its events in the same round trip as its ``UPDATE`` that way (``sea/claim.py``).

Where open deals go when their customer moves
---------------------------------------------
Every move of a customer between the seas writes an ``ownership_event`` through this writer
(claim, release, recycle, transfer, assign, a rep deactivated to a colleague or to the open
sea), so the writer is also where a move carries the customer's deals, by one rule
(``deals_that_follow``):

- open deals (prospecting … negotiation) follow the customer: to the new owner on a claim,
  a transfer or an assignment, at the stage they are in; to nobody (``deal.owner_id`` null)
  when the customer goes to the open sea by release or recycling, so they are never left with
  a rep who can no longer see their customer, and whoever claims the customer next finds them
  in their own pipeline;
- won and lost deals keep the rep who closed them, for the record (the month's wins, RFM);
- a customer created (``kind="created"``) has no deals yet, and nothing moves.

The PostgreSQL claim runs the same ``UPDATE`` as a CTE of its one statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Insert, Table, Update, insert, literal, null, select, update
from sqlalchemy.sql import ClauseElement

from crm_tui.store.db.session import Session
from crm_tui.store.domain import OPEN_STAGES
from crm_tui.store.records import Actor
from crm_tui.store.schema.tables import audit_event as audit_t
from crm_tui.store.schema.tables import deal as deal_t
from crm_tui.store.schema.tables import ownership_event as ownership_t
from crm_tui.store.schema.tables import rep as rep_t

Row = dict[str, Any]


def ownership_row(
    customer_id: Any, kind: str, actor_id: Any, from_id: Any, to_id: Any, reason: Any, at: Any,
) -> Row:
    """One ``ownership_event``: a customer created, claimed, released, recycled or transferred."""
    return dict(customer_id=customer_id, kind=kind, actor_id=actor_id, from_rep_id=from_id,
                to_rep_id=to_id, reason=reason, at=at)


def audit_row(
    actor_id: Any, entity: str, entity_id: Any, action: str, at: Any,
    field: str | None = None, old: Any = None, new: Any = None,
) -> Row:
    """One ``audit_event``: a field of an entity changed (or, without a field, the entity as a
    whole); values are kept as text."""
    return dict(actor_id=actor_id, entity=entity, entity_id=entity_id, action=action,
                field=field, old=_audit_text(old), new=_audit_text(new), at=at)


_DEAL_CHUNK = 2000
"""Customer ids per ``IN (...)`` list when deals follow a move of many customers."""


def deals_that_follow(ownership: Sequence[Row]) -> list[Update]:
    """The ``UPDATE``s that carry the customers' open deals along with these ownership events
    (see the module's docstring): one per receiving rep (and time) for plain values, one per
    event whose customer is an SQL expression (a column of the PostgreSQL claim's CTE)."""
    statements: list[Update] = []
    groups: dict[tuple[Any, Any], list[Any]] = {}
    for row in ownership:
        if row["kind"] == "created":
            continue
        if isinstance(row["customer_id"], ClauseElement):
            statements.append(_open_deals_to(deal_t.c.customer_id == row["customer_id"],
                                             row["to_rep_id"], row["at"]))
        else:
            groups.setdefault((row["to_rep_id"], row["at"]), []).append(row["customer_id"])
    for (to_id, at), ids in groups.items():
        for start in range(0, len(ids), _DEAL_CHUNK):
            statements.append(_open_deals_to(deal_t.c.customer_id.in_(ids[start : start + _DEAL_CHUNK]),
                                             to_id, at))
    return statements


def _open_deals_to(customers: Any, to_id: Any, at: Any) -> Update:
    """The rule itself: the open deals of these customers now belong to ``to_id`` (None: the
    open sea, nobody); won and lost deals are left as they are."""
    return (
        update(deal_t)
        .where(customers, deal_t.c.stage.in_(OPEN_STAGES))
        .values(owner_id=to_id, updated_at=at)
    )


def insert_selecting(table: Table, row: Row) -> Insert:
    """``INSERT INTO table … SELECT`` of one row whose values may be SQL expressions (columns of
    a CTE, bound parameters): no row is written when those columns' CTE returned none."""
    return insert(table).from_select(list(row), select(*(_as_sql(value) for value in row.values())))


def _as_sql(value: Any) -> Any:
    if isinstance(value, ClauseElement):
        return value
    return null() if value is None else literal(value)


def _audit_text(value: Any) -> Any:
    if value is None or isinstance(value, (str, ClauseElement)):
        return value
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)


class History(Session):
    """The one writer of ownership and audit events."""

    def _write_history(
        self, conn: Connection, *, ownership: Sequence[Row] = (), audit: Sequence[Row] = ()
    ) -> None:
        """Write these event rows (``ownership_row``, ``audit_row``), one statement per table,
        and move the open deals of the customers that moved (``deals_that_follow``)."""
        if ownership:
            conn.execute(insert(ownership_t), list(ownership))
            for statement in deals_that_follow(ownership):
                conn.execute(statement)
        if audit:
            conn.execute(insert(audit_t), list(audit))

    def _ownership(
        self,
        conn: Connection,
        customer_ids: Iterable[int],
        kind: str,
        actor: Actor | None,
        from_id: int | None,
        to_id: int | None,
        reason: str | None,
        at: datetime | None = None,
    ) -> None:
        """One ``ownership_event`` per customer, all of one move from ``from_id`` to ``to_id``."""
        at = at or self.clock.now()
        actor_id = actor.id if actor else None
        self._write_history(conn, ownership=[
            ownership_row(cid, kind, actor_id, from_id, to_id, reason, at) for cid in customer_ids
        ])

    def _audit(
        self,
        conn: Connection,
        actor: Actor | None,
        entity: str,
        entity_id: int | None,
        action: str,
        changes: dict[str, tuple[Any, Any]] | None = None,
        at: datetime | None = None,
    ) -> None:
        """Audit one change of an entity: a row per changed field, or one row without fields."""
        at = at or self.clock.now()
        actor_id = actor.id if actor else None
        if not changes:
            self._write_history(conn, audit=[audit_row(actor_id, entity, entity_id, action, at)])
            return
        self._write_history(conn, audit=[
            audit_row(actor_id, entity, entity_id, action, at, name, old, new)
            for name, (old, new) in changes.items()
        ])

    def _audit_owner_change(
        self, conn: Connection, actor: Actor | None, customer_ids: Sequence[int], action: str,
        from_id: int | None, to_id: int | None, at: datetime | None = None,
    ) -> None:
        """Audit the owner of these customers changing from rep ``from_id`` to rep ``to_id``."""
        logins = {row.id: row.login for row in conn.execute(
            select(rep_t.c.id, rep_t.c.login).where(rep_t.c.id.in_([i for i in (from_id, to_id) if i]))
        )}
        at = at or self.clock.now()
        actor_id = actor.id if actor else None
        self._write_history(conn, audit=[
            audit_row(actor_id, "customer", cid, action, at, "owner",
                      logins.get(from_id) if from_id else None, logins.get(to_id) if to_id else None)
            for cid in customer_ids
        ])
