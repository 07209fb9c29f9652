"""Windows of a customer listing for the virtual table: count + page, any sort, any filter.

Deep pages stay fast at 1,000,000 rows (DESIGN §9: page down / jump to the last row ≤ 50 ms):
an offset past the middle is read from the other end in reverse order, and a page just after
one already served continues from that page's last row (keyset) instead of skipping rows.

Names sort by ``customer.sort_key`` (Chinese by pinyin, Latin alphabetically). A search in the
default order (by name, ascending) lists its matches best first, as ``crm find`` does
(``SearchOps._rank_ids``): the names the query spells out, then — when the matches are few
enough to rank, ``RANK_CAP`` — by where the terms are found; a larger match set lists the
spelled-out names first and the rest by name.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, and_, func, not_, or_, select
from sqlalchemy.sql import ColumnElement, FromClause

from crm_tui.store.db.base import customer_select, customer_t, customer_tag_t, owner_rep, tag_t
from crm_tui.store.records import Actor, CustomerRecord, ListQuery
from crm_tui.store.search.query import RANK_CAP, SearchOps, sort_key_range
from crm_tui.store.search.tokens import query_terms

SORTABLE = {
    "name": customer_t.c.sort_key,
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
# The attribute of a listing row holding each sort key (for keyset anchors).
_ROW_KEY = {"owner": "owner_login", "name": "sort_key"}

REVERSE_FROM = 5_000
"""Offsets below this are read forwards; past it and past the middle, from the end."""
ANCHOR_REACH = 5_000
"""Most rows skipped after a keyset anchor before a plain OFFSET is used instead."""
HEAD_CAP = 2_000
"""Most spelled-out names listed ahead of a large match set (more: the plain name order)."""
CACHE_TTL = 5.0
"""Seconds a count or an anchor is trusted. This process's own writes drop them at once;
another client's change shows within the live-update delay, when the table reloads anyway."""


class ListingOps(SearchOps):
    """Count and page through customers; both run in one short read each."""

    def _list_conditions(self, actor: Actor, query: ListQuery,
                         conn: Connection | None = None) -> list[ColumnElement[bool]]:
        conditions = [self.scope_clause(actor, query.scope)]
        matched = self.search_condition(query.text, conn)
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

    # --- counting -----------------------------------------------------------------------------

    def count_customers(self, actor: Actor, query: ListQuery, *, cap: int | None = None) -> int:
        """How many customers the listing holds; with ``cap``, counting stops there."""
        with self.read() as conn:
            return self._count_customers(conn, actor, query, cap=cap)

    def _count_customers(self, conn: Connection, actor: Actor, query: ListQuery,
                         cap: int | None = None) -> int:
        conditions = self._list_conditions(actor, query, conn)
        if cap is not None:
            capped = select(customer_t.c.id).where(*conditions).limit(cap).subquery()
            return int(conn.execute(select(func.count()).select_from(capped)).scalar() or 0)
        total = int(conn.execute(
            select(func.count()).select_from(customer_t).where(*conditions)).scalar() or 0)
        self._listing_state()["counts"][(actor.id, query)] = (time.monotonic(), total)
        return total

    def _known_count(self, conn: Connection, actor: Actor, query: ListQuery) -> int:
        """The count of a listing, reusing one made in the last ``CACHE_TTL`` seconds."""
        known = self._listing_state()["counts"].get((actor.id, query))
        if known is not None and time.monotonic() - known[0] <= CACHE_TTL:
            return int(known[1])
        return self._count_customers(conn, actor, query)

    # --- pages --------------------------------------------------------------------------------

    def customer_page(
        self, actor: Actor, query: ListQuery, offset: int, limit: int, *, total: int | None = None
    ) -> list[CustomerRecord]:
        """Rows ``offset`` .. ``offset + limit`` of the listing in its sort order.

        ``total`` (the listing's count, when the caller knows it) saves a count for deep pages.
        """
        offset = max(0, offset)
        if limit <= 0:
            return []
        with self.read() as conn:
            if ranks(query):
                return self._ranked_page(conn, actor, query, offset, limit, total)
            rows = self._page_rows(conn, actor, query, offset, limit, total)
            self._remember_anchor(actor, query, offset + len(rows), rows[-1] if rows else None)
            return self._records(conn, rows, actor)

    def _ranked_page(self, conn: Connection, actor: Actor, query: ListQuery, offset: int,
                     limit: int, total: int | None) -> list[CustomerRecord]:
        """A page of a search listed best first (see the module's docstring)."""
        ranked, head = self._ranking(conn, actor, query)
        if ranked is not None:
            return self._records_by_ids(conn, actor, ranked[offset : offset + limit])
        records = self._records_by_ids(conn, actor, head[offset : offset + limit])
        if len(records) < limit:
            conditions = self._list_conditions(actor, query, conn)
            if head:
                conditions.append(not_(sort_key_range(query.text)))
            rest_offset = max(0, offset - len(head))
            rest_total = None
            if rest_offset >= REVERSE_FROM:
                whole = total if total is not None else self._known_count(conn, actor, query)
                rest_total = whole - len(head)
            rows = self._window(conn, conditions, SORTABLE["name"], False, rest_offset,
                                limit - len(records), rest_total)
            records += self._records(conn, rows, actor)
        return records

    def _ranking(self, conn: Connection, actor: Actor, query: ListQuery
                 ) -> tuple[list[int] | None, list[int]]:
        """A search's order: (every match best first, []) when the matches are few enough to
        rank, else (None, the spelled-out names to list first). Kept ``CACHE_TTL`` seconds."""
        state = self._listing_state()
        key = (actor.id, query)
        known = state["ranked"].get(key)
        if known is not None and time.monotonic() - known[0] <= CACHE_TTL:
            return known[1]
        filters = and_(*self._list_conditions(actor, query.with_(text=""), conn))
        plan: tuple[list[int] | None, list[int]]
        # Counted as far as RANK_CAP + 1 by the token index itself, in id order with a LIMIT.
        capped = self._match_ids(conn, query.text, filters).limit(RANK_CAP + 1)
        if len(conn.execute(capped).all()) <= RANK_CAP:
            plan = (self._rank_ids(conn, query.text, filters, RANK_CAP)[0], [])
        else:
            # Listed first only when the whole range was read: the rest excludes all of it.
            head, whole = self._name_head_read(conn, query.text, filters, HEAD_CAP + 1)
            plan = (None, head if whole else [])
        with state["lock"]:
            if len(state["ranked"]) > 32:
                state["ranked"].clear()
            state["ranked"][key] = (time.monotonic(), plan)
        return plan

    def _page_rows(self, conn: Connection, actor: Actor, query: ListQuery, offset: int,
                   limit: int, total: int | None) -> list[Any]:
        column = SORTABLE.get(query.sort, customer_t.c.name)
        conditions = self._list_conditions(actor, query, conn)
        anchor = self._anchor(actor, query, offset)
        if anchor is not None:
            start, value, anchor_id = anchor
            after = self._after(column, query.descending, value, anchor_id)
            return self._ordered(conditions + [after], column, query.descending,
                                 offset - start, limit, conn)
        if offset >= REVERSE_FROM and total is None:
            total = self._known_count(conn, actor, query)
        return self._window(conn, conditions, column, query.descending, offset, limit, total)

    def _window(self, conn: Connection, conditions: list[ColumnElement[bool]], column: Any,
                descending: bool, offset: int, limit: int, total: int | None) -> list[Any]:
        """Rows ``offset`` .. ``offset + limit`` in order; past ``REVERSE_FROM`` and the middle
        of ``total`` rows, read from the other end."""
        if offset >= REVERSE_FROM and total is not None:
            if offset >= total:
                return []
            if offset + limit / 2 > total / 2:
                end = min(total, offset + limit)
                rows = self._ordered(conditions, column, not descending, total - end,
                                     end - offset, conn)
                return rows[::-1]
        return self._ordered(conditions, column, descending, offset, limit, conn)

    def _ordered(self, conditions: list[ColumnElement[bool]], column: Any, descending: bool,
                 offset: int, limit: int, conn: Connection) -> list[Any]:
        """Rows in order: ids first (skipped rows touch only an index), then those rows whole."""
        order = [column.desc() if descending else column.asc(),
                 customer_t.c.id.desc() if descending else customer_t.c.id.asc()]
        source: FromClause = customer_t
        if column is SORTABLE["owner"]:
            source = customer_t.outerjoin(owner_rep, owner_rep.c.id == customer_t.c.owner_id)
        ids = list(conn.execute(
            select(customer_t.c.id).select_from(source).where(*conditions)
            .order_by(*order).offset(offset).limit(limit)
        ).scalars())
        if not ids:
            return []
        rows = {row.id: row for row in conn.execute(
            customer_select(customer_t.c.sort_key).where(customer_t.c.id.in_(ids)))}
        return [rows[i] for i in ids if i in rows]

    def _after(self, column: Any, descending: bool, value: Any, anchor_id: int) -> ColumnElement[bool]:
        """Rows after (``value``, ``anchor_id``) in the order; ``value`` is never NULL.

        Written as a range on the sort column (so its index serves it) minus the ties before
        the anchor. NULLs sort first ascending on SQLite and last on PostgreSQL (and the other
        way round descending); where they come after the anchor, they are added.
        """
        if descending:
            bound = column <= value
            ties_before = and_(column == value, customer_t.c.id >= anchor_id)
        else:
            bound = column >= value
            ties_before = and_(column == value, customer_t.c.id <= anchor_id)
        after = and_(bound, not_(ties_before))
        nulls_after = descending if self.is_sqlite else not descending
        if nulls_after and column is not customer_t.c.id:
            after = or_(after, column.is_(None))
        return after

    # --- keyset anchors -----------------------------------------------------------------------

    def _listing_state(self) -> dict[str, Any]:
        state = self.__dict__.get("_listing")
        if state is None:
            state = self.__dict__.setdefault(
                "_listing",
                {"lock": threading.Lock(), "anchors": {}, "counts": {}, "ranked": {}})
        return state

    def _remember_anchor(self, actor: Actor, query: ListQuery, offset: int, row: Any) -> None:
        """Remember the sort key of the row just before ``offset`` (the last row of a page)."""
        if row is None:
            return
        value = getattr(row, _ROW_KEY.get(query.sort, query.sort if query.sort in SORTABLE else "name"))
        if value is None:
            return
        state = self._listing_state()
        with state["lock"]:
            anchors = state["anchors"]
            key = (actor.id, query)
            if key not in anchors and len(anchors) > 32:
                anchors.clear()
            mine = anchors.setdefault(key, {})
            if len(mine) > 256:
                mine.clear()
            mine[offset] = (value, row.id, time.monotonic())

    def _anchor(self, actor: Actor, query: ListQuery, offset: int) -> tuple[int, Any, int] | None:
        """The nearest remembered anchor at or before ``offset`` within ``ANCHOR_REACH`` rows."""
        state = self._listing_state()
        with state["lock"]:
            mine = state["anchors"].get((actor.id, query))
            if not mine:
                return None
            now = time.monotonic()
            near = [start for start, (_, _, at) in mine.items()
                    if 0 <= offset - start < ANCHOR_REACH and now - at <= CACHE_TTL]
            if not near:
                return None
            start = max(near)
            value, anchor_id, _ = mine[start]
        return start, value, anchor_id

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (see ``StoreBase.write``); afterwards counts and anchors are stale."""
        try:
            with super().write() as conn:
                yield conn
        finally:
            self.forget_listing_cache()

    def forget_listing_cache(self) -> None:
        """Drop remembered counts and anchors (after this process changes customers)."""
        state = self._listing_state()
        with state["lock"]:
            state["anchors"].clear()
            state["counts"].clear()
            state["ranked"].clear()


def ranks(query: ListQuery) -> bool:
    """Whether a listing shows its matches best first: a search in the default name order."""
    return query.sort == "name" and not query.descending and bool(query_terms(query.text))
