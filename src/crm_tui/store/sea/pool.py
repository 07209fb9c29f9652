"""Browsing the open sea (DESIGN §4): its customers, masked until claimed, and their days in it."""

from __future__ import annotations

from crm_tui.store.db.base import StoreBase, customer_select, customer_t
from crm_tui.store.records import Actor
from crm_tui.store.reports import PoolEntry


class PoolOps(StoreBase):
    """The open sea as a list."""

    def pool(
        self, actor: Actor, query: str = "", *, limit: int = 50, offset: int = 0
    ) -> list[PoolEntry]:
        """Open-sea customers (masked while ``mask_pool_contacts``), newest in the pool first or
        best match first for a query, each with its days in the pool."""
        statement = customer_select().where(customer_t.c.owner_id.is_(None))
        condition = self.search_condition(query) if query.strip() else None  # type: ignore[attr-defined]  # SearchOps's, beside this mixin in Store
        if condition is not None:
            statement = statement.where(condition).order_by(
                *self._rank(query), customer_t.c.id  # type: ignore[attr-defined]  # SearchOps's, as above
            )
        else:
            statement = statement.order_by(
                customer_t.c.pool_entered_at.desc().nulls_last(), customer_t.c.id.desc()
            )
        now = self.clock.now()
        with self.read() as conn:
            rows = conn.execute(statement.limit(limit).offset(max(0, offset))).all()
            records = self._records(conn, rows, actor)
        return [
            PoolEntry(record, (now - record.pool_entered_at).days if record.pool_entered_at else None)
            for record in records
        ]
