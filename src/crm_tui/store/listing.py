"""Windows of a customer listing for the virtual table: count + page, any sort, any filter."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import Connection, func, select
from sqlalchemy.sql import ColumnElement

from .base import customer_select, customer_t, customer_tag_t, owner_rep, tag_t
from .records import Actor, CustomerRecord
from .search import SearchOps

SORTABLE = {
    "name": customer_t.c.name,
    "company": customer_t.c.company,
    "status": customer_t.c.status,
    "tier": customer_t.c.tier,
    "owner": owner_rep.c.login,
    "last_follow_up_at": customer_t.c.last_follow_up_at,
    "next_follow_up_at": customer_t.c.next_follow_up_at,
    "phone": customer_t.c.phone,
    "id": customer_t.c.id,
    "pool_entered_at": customer_t.c.pool_entered_at,
}


@dataclass(frozen=True)
class ListQuery:
    """What the customer list shows: scope, search text, sort and filters."""

    scope: str = "mine"
    """mine (my private sea), all (everything I may see) or pool (the open sea)."""
    text: str = ""
    """Search-as-you-type text; empty lists everything in scope."""
    sort: str = "name"
    """A key of ``SORTABLE``."""
    descending: bool = False
    status: str | None = None
    tier: str | None = None
    tag: str | None = None
    source: str | None = None
    region: str | None = None
    due: bool = False
    """Only customers whose next follow-up is today or overdue."""

    def with_(self, **changes: object) -> ListQuery:
        return replace(self, **changes)  # type: ignore[arg-type]


class ListingOps(SearchOps):
    """Count and page through customers; both run in one short read each."""

    def _list_conditions(self, actor: Actor, query: ListQuery) -> list[ColumnElement[bool]]:
        conditions = [self.scope_clause(actor, query.scope)]
        matched = self.search_condition(query.text)
        if matched is not None:
            conditions.append(matched)
        for name in ("status", "tier", "source", "region"):
            value = getattr(query, name)
            if value:
                conditions.append(customer_t.c[name] == value)
        if query.tag:
            conditions.append(customer_t.c.id.in_(
                select(customer_tag_t.c.customer_id)
                .join(tag_t, tag_t.c.id == customer_tag_t.c.tag_id)
                .where(tag_t.c.name == query.tag)
            ))
        if query.due:
            conditions.append(customer_t.c.next_follow_up_at <= self.clock.today())
        return conditions

    def count_customers(self, actor: Actor, query: ListQuery) -> int:
        with self.read() as conn:
            return self._count_customers(conn, actor, query)

    def _count_customers(self, conn: Connection, actor: Actor, query: ListQuery) -> int:
        statement = select(func.count()).select_from(customer_t).where(*self._list_conditions(actor, query))
        return int(conn.execute(statement).scalar() or 0)

    def customer_page(
        self, actor: Actor, query: ListQuery, offset: int, limit: int
    ) -> list[CustomerRecord]:
        """Rows ``offset`` .. ``offset + limit`` of the listing in its sort order."""
        column = SORTABLE.get(query.sort, customer_t.c.name)
        order = [column.desc() if query.descending else column.asc(),
                 customer_t.c.id.desc() if query.descending else customer_t.c.id.asc()]
        statement = (
            customer_select()
            .where(*self._list_conditions(actor, query))
            .order_by(*order)
            .offset(max(0, offset))
            .limit(limit)
        )
        with self.read() as conn:
            rows = conn.execute(statement).all()
            return self._records(conn, rows, actor)
