"""History: the ``ownership_event`` and ``audit_event`` rows every change writes (DESIGN §3, §4).

The rows are built in one place (``ownership_row``, ``audit_row``) and written by one writer
(``History._write_history``). Their values may be plain values, written as ``INSERT``s, or SQL
expressions, written by ``insert_selecting`` inside another statement: the PostgreSQL claim
writes its events in the same round trip as its ``UPDATE`` that way (``sea/claim.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Insert, Table, insert, literal, null, select
from sqlalchemy.sql import ClauseElement

from crm_tui.store.db.session import Session
from crm_tui.store.records import Actor
from crm_tui.store.schema.tables import audit_event as audit_t
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
        """Write these event rows (``ownership_row``, ``audit_row``), one statement per table."""
        if ownership:
            conn.execute(insert(ownership_t), list(ownership))
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
