"""Customer value (DESIGN §3): established and potential value, RFM segment, tier, completeness.

Tiers are a ranking of the whole book, so they are computed for everyone at once and cached in
``customer.tier``:

- A: the customers that make the first 80 % of established (won) revenue, largest first;
- B: the next 15 %; C: the rest of the customers with revenue;
- none (NULL): customers without won revenue. A tier typed by hand or imported is replaced at
  the next refresh: the column belongs to ``refresh_tiers`` once it runs.

A customer is A when the revenue of the customers ranked above it is below 80 % of the total,
so the customer that crosses the line is A too (ties are broken by id, so a refresh is
deterministic). The ranking is one SQL window function (``SUM(...) OVER (ORDER BY ...)``) on
SQLite and PostgreSQL alike.

Keeping it fresh: every deal change (``add_deal``, ``move_deal``) marks the tiers stale in the
same transaction, by writing a new random token to the ``state.tiers_dirty`` setting (one small
row, no scan). ``refresh_tiers_if_stale()`` recomputes when the token differs from the one the
last refresh saw (``state.tiers_clean``); the TUI runs it in a background worker after a deal is
saved, and a cron job (``crm recycle``) or the dashboard may call it too. On PostgreSQL the
ranking needs a role that sees every customer (row-level security would hide other reps'
books): a rep's session skips the refresh and leaves it to the owner's or a bypassing role's. A deal saved during a
refresh leaves a new token behind, so the next call refreshes again: nothing is lost.
A refresh reads first (one read transaction) and writes only the customers whose tier changed,
so the write lock is held briefly; when very many change (the first refresh of an imported or
demo book) it writes them with two set-based UPDATE statements instead.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Connection,
    Exists,
    Subquery,
    and_,
    bindparam,
    case,
    exists,
    func,
    select,
    update,
)

from crm_tui.store.db.base import customer_select, customer_t, setting_t
from crm_tui.store.domain import OPEN_STAGES, STAGE_PROBABILITY
from crm_tui.store.records import Actor, Value
from crm_tui.store.reports import TierRefresh
from crm_tui.store.sales.deals import DealOps, deal_t
from crm_tui.store.schema.tables import contact as contact_t
from crm_tui.store.team import settings as rules_mod

TIER_A_SHARE = Decimal("0.80")
TIER_B_SHARE = Decimal("0.95")
TIERS_DIRTY_KEY = "state.tiers_dirty"
TIERS_CLEAN_KEY = "state.tiers_clean"
BULK_TIER_WRITE = 5_000
"""Above this many changed tiers a refresh rewrites them set-based instead of row by row."""

# Recency and frequency cut-offs of the RFM scores (1 = weak, 3 = strong).
RECENT_DAYS = 90
LAPSED_DAYS = 365
FREQUENT_DEALS = 4
REPEAT_DEALS = 2

# The fields a complete customer record has, in the order they are reported missing.
KEY_FIELDS = ("company", "industry", "region", "address", "phone", "email", "source",
              "contact", "next follow-up")


# --- pure functions ---------------------------------------------------------------------------


def rfm_scores(won_count: int, last_won_at: datetime | None, now: datetime,
               tier: str | None = None) -> tuple[int, int, int] | None:
    """Recency, frequency and monetary scores (1–3) from won deals; None without any.

    Monetary is relative to the whole book, so it comes from the tier (A 3, B 2, C 1).
    """
    if won_count <= 0 or last_won_at is None:
        return None
    age = now - last_won_at
    recency = 3 if age <= timedelta(days=RECENT_DAYS) else 2 if age <= timedelta(days=LAPSED_DAYS) else 1
    frequency = 3 if won_count >= FREQUENT_DEALS else 2 if won_count >= REPEAT_DEALS else 1
    monetary = {"A": 3, "B": 2}.get(tier or "", 1)
    return recency, frequency, monetary


def rfm_segment(won_count: int, last_won_at: datetime | None, now: datetime,
                tier: str | None = None) -> str:
    """The RFM segment: prospect, champion, loyal, new, promising, at risk or dormant."""
    scores = rfm_scores(won_count, last_won_at, now, tier)
    if scores is None:
        return "prospect"
    recency, frequency, monetary = scores
    if recency == 3 and frequency + monetary >= 5:
        return "champion"
    if recency >= 2 and frequency >= 2:
        return "loyal"
    if recency == 3:
        return "new"
    if recency == 2:
        return "promising"
    if frequency >= 2 or monetary >= 2:
        return "at risk"
    return "dormant"


def completeness(customer: Any, contact_count: int) -> tuple[float, list[str]]:
    """The share of key fields filled, and the names of the missing ones."""
    present = {
        "company": bool(customer.company) or customer.kind == "company",
        "industry": bool(customer.industry),
        "region": bool(customer.region),
        "address": bool(customer.address),
        "phone": bool(customer.phone),
        "email": bool(customer.email),
        "source": bool(customer.source),
        "contact": contact_count > 0,
        "next follow-up": customer.next_follow_up_at is not None,
    }
    missing = [name for name in KEY_FIELDS if not present[name]]
    return round(1 - len(missing) / len(KEY_FIELDS), 2), missing


@dataclass
class _DealFacts:
    established: Decimal
    potential: Decimal
    won_count: int
    last_won_at: datetime | None


def _cents(value: Any) -> Decimal:
    """A SUM from either backend (Decimal on PostgreSQL, float on SQLite) as exact cents."""
    if value is None:
        return Decimal("0")
    return Decimal(str(value)).quantize(Decimal("0.01"))


# --- the store part ---------------------------------------------------------------------------


class AnalyticsOps(DealOps):
    """Value figures computed in SQL, shared by the portrait, the list and ``crm show``."""

    # --- value of a few customers -----------------------------------------------------------

    def _deal_facts(self, conn: Connection, ids: Sequence[int]) -> dict[int, _DealFacts]:
        """Per customer: won sum, count and latest close; open amounts weighted by stage."""
        facts = {cid: _DealFacts(Decimal("0"), Decimal("0"), 0, None) for cid in ids}
        if not ids:
            return facts
        for cid, stage, total, count, last_closed in conn.execute(
            select(deal_t.c.customer_id, deal_t.c.stage, func.sum(deal_t.c.amount),
                   func.count(), func.max(deal_t.c.closed_at))
            .where(deal_t.c.customer_id.in_(ids))
            .group_by(deal_t.c.customer_id, deal_t.c.stage)
        ):
            fact = facts[cid]
            if stage == "won":
                fact.established += _cents(total)
                fact.won_count += int(count)
                fact.last_won_at = last_closed
            elif stage in OPEN_STAGES:
                fact.potential += _cents(total) * STAGE_PROBABILITY[stage]
        return facts

    def _values(self, conn: Connection, rows: Sequence[Any]) -> dict[int, Value]:
        """Value of each customer row (needs the customer columns for completeness)."""
        ids = [row.id for row in rows]
        facts = self._deal_facts(conn, ids)
        contacts: dict[int, int] = dict(conn.execute(
            select(contact_t.c.customer_id, func.count())
            .where(contact_t.c.customer_id.in_(ids)).group_by(contact_t.c.customer_id)
        ).all()) if ids else {}
        now = self.clock.now()
        values = {}
        for row in rows:
            fact = facts[row.id]
            share, missing = completeness(row, int(contacts.get(row.id, 0)))
            values[row.id] = Value(
                established=fact.established.quantize(Decimal("0.01")),
                potential=fact.potential.quantize(Decimal("0.01")),
                rfm_segment=rfm_segment(fact.won_count, fact.last_won_at, now, row.tier),
                tier=row.tier,
                completeness=share,
                missing=missing,
            )
        return values

    def _value(self, conn: Connection, customer: Any) -> Value:
        return self._values(conn, [customer])[customer.id]

    def customer_values(self, actor: Actor, customer_ids: Iterable[int]) -> dict[int, Value]:
        """Value figures of the given customers that ``actor`` may see (for a page of the list)."""
        ids = list(dict.fromkeys(int(cid) for cid in customer_ids))
        if not ids:
            return {}
        with self.read() as conn:
            rows = conn.execute(
                customer_select().where(customer_t.c.id.in_(ids), self.visible(actor))
            ).all()
            return self._values(conn, rows)

    # --- tiers ------------------------------------------------------------------------------

    def _after_deal_change(self, conn: Connection, actor: Actor, customer_id: int, stage: str) -> None:
        super()._after_deal_change(conn, actor, customer_id, stage)
        self._mark_tiers_stale(conn)

    def _mark_tiers_stale(self, conn: Connection) -> None:
        self._put_setting(conn, TIERS_DIRTY_KEY, uuid.uuid4().hex)

    def mark_tiers_stale(self) -> None:
        """Note that deals changed behind the store's back (bulk loads): tiers need a refresh."""
        with self.write() as conn:
            self._mark_tiers_stale(conn)

    def _tier_tokens(self, conn: Connection) -> tuple[str | None, str | None]:
        tokens = dict(conn.execute(
            select(setting_t.c.key, setting_t.c.value)
            .where(setting_t.c.key.in_([TIERS_DIRTY_KEY, TIERS_CLEAN_KEY]))
        ).all())
        # Written by the one settings writer (_put_setting), which stores JSON text.
        dirty, clean = (tokens.get(key) for key in (TIERS_DIRTY_KEY, TIERS_CLEAN_KEY))
        return (None if dirty is None else str(rules_mod.decode(TIERS_DIRTY_KEY, dirty)),
                None if clean is None else str(rules_mod.decode(TIERS_CLEAN_KEY, clean)))

    def tiers_stale(self) -> bool:
        """Whether deals changed since the last tier refresh (or tiers were never computed)."""
        with self.read() as conn:
            dirty, clean = self._tier_tokens(conn)
        return clean is None or (dirty is not None and dirty != clean)

    def refresh_tiers_if_stale(self) -> TierRefresh | None:
        """Refresh the tiers when a deal changed since the last refresh; None when fresh, or
        when this connection may not see every customer (PostgreSQL row-level security: a
        rep's refresh would rank only their own book; the owner's or an admin role's next
        refresh does it)."""
        if not self.tiers_stale():
            return None
        with self.read() as conn:
            if not self._sees_every_customer(conn):
                return None
        return self.refresh_tiers()

    def _sees_every_customer(self, conn: Connection) -> bool:
        """Whether row-level security leaves this connection every row (always on SQLite)."""
        if self.is_sqlite:
            return True
        from sqlalchemy import text

        return bool(conn.execute(text(
            "SELECT r.rolsuper OR r.rolbypassrls OR NOT c.relrowsecurity"
            " OR (c.relowner = r.oid AND NOT c.relforcerowsecurity)"
            " FROM pg_roles r, pg_class c"
            " WHERE r.rolname = current_user AND c.oid = 'customer'::regclass"
        )).scalar())

    @staticmethod
    def _revenue() -> Subquery:
        """Won revenue per customer, only customers with some (amounts are never negative)."""
        return (
            select(deal_t.c.customer_id.label("customer_id"),
                   func.sum(deal_t.c.amount).label("established"))
            .where(deal_t.c.stage == "won", deal_t.c.amount > 0)
            .group_by(deal_t.c.customer_id)
            .subquery("revenue")
        )

    @staticmethod
    def _has_revenue() -> Exists:
        """EXISTS a won deal with an amount, for the customer row at hand (an anti-join when negated)."""
        return exists().where(deal_t.c.customer_id == customer_t.c.id, deal_t.c.stage == "won",
                              deal_t.c.amount > 0)

    def _tier_select(self) -> Subquery:
        """(customer_id, tier) for every customer with revenue: the window-function ranking."""
        revenue = self._revenue()
        running = func.sum(revenue.c.established).over(
            order_by=(revenue.c.established.desc(), revenue.c.customer_id), rows=(None, 0)
        )
        ranked = select(
            revenue.c.customer_id,
            (running - revenue.c.established).label("before"),
            func.sum(revenue.c.established).over().label("total"),
        ).subquery("ranked")
        tier = case(
            (ranked.c.before < ranked.c.total * TIER_A_SHARE, "A"),
            (ranked.c.before < ranked.c.total * TIER_B_SHARE, "B"),
            else_="C",
        )
        return select(ranked.c.customer_id, tier.label("tier")).subquery("tiered")

    def refresh_tiers(self) -> TierRefresh:
        """Recompute every customer's A/B/C tier from won revenue and write the changed ones.

        Needs a connection that sees every customer (see ``refresh_tiers_if_stale``).
        """
        started = time.perf_counter()
        with self.read() as conn:
            if not self._sees_every_customer(conn):
                from crm_tui.store.errors import PermissionDenied

                raise PermissionDenied(
                    "Tiers rank the whole customer book: refresh them as the database owner "
                    "(row-level security hides other reps' customers from this role)."
                )
            dirty, _clean = self._tier_tokens(conn)
            self._roomy_sorts(conn)
            tiered = self._tier_select()
            changes = self._tier_changes(conn, tiered)
        bulk = len(changes) > BULK_TIER_WRITE
        with self.write() as conn:
            if bulk:
                changed = self._write_tiers_in_bulk(conn)
                self._changed(conn, None)
            else:
                changed = len(changes)
                if changes:
                    conn.execute(
                        update(customer_t)
                        .where(customer_t.c.id == bindparam("cid"))
                        .values(tier=bindparam("new_tier")),
                        changes,
                    )
                    self._changed(conn, [change["cid"] for change in changes])
            self._put_setting(conn, TIERS_CLEAN_KEY, dirty or "never-dirty")
            counts: dict[str, int] = dict(conn.execute(
                select(customer_t.c.tier, func.count())
                .where(customer_t.c.tier.is_not(None)).group_by(customer_t.c.tier)
            ).all())
        return TierRefresh(a=int(counts.get("A", 0)), b=int(counts.get("B", 0)),
                           c=int(counts.get("C", 0)), changed=changed,
                           seconds=round(time.perf_counter() - started, 3), bulk=bulk)

    def _tier_changes(self, conn: Connection, tiered: Any) -> list[dict[str, Any]]:
        """The customers whose cached tier differs from the ranking ``tiered`` (at most
        ``BULK_TIER_WRITE + 1``: more means a set-based rewrite), as UPDATE parameters."""
        limit = BULK_TIER_WRITE + 1
        if not self.is_sqlite:
            # One hash full join of the ranking with the customers holding a tier: both kinds
            # of change (a new or moved tier; a tier without revenue) in one pass, where 200k
            # primary-key probes took 2–3 times as long (1M book: 0.55 s against 1.3 s).
            current = (select(customer_t.c.id, customer_t.c.tier)
                       .where(customer_t.c.tier.is_not(None)).subquery("current"))
            return [
                {"cid": cid, "new_tier": tier}
                for cid, tier in conn.execute(
                    select(func.coalesce(tiered.c.customer_id, current.c.id), tiered.c.tier)
                    .select_from(tiered.outerjoin(current, current.c.id == tiered.c.customer_id,
                                                  full=True))
                    .where(current.c.tier.is_distinct_from(tiered.c.tier))
                    .limit(limit)
                )
            ]
        # SQLite has no hash join (a full or left join of every customer to the ranking runs
        # as a nested loop): driven from the ranking, a primary-key lookup per ranked customer,
        # then the customers that hold a tier without revenue (an anti-join).
        changes = [
            {"cid": cid, "new_tier": tier}
            for cid, tier in conn.execute(
                select(tiered.c.customer_id, tiered.c.tier)
                .select_from(tiered.join(customer_t, customer_t.c.id == tiered.c.customer_id))
                .where(customer_t.c.tier.is_distinct_from(tiered.c.tier))
                .limit(limit)
            )
        ]
        if len(changes) < limit:
            changes += [
                {"cid": cid, "new_tier": None}
                for cid in conn.execute(
                    select(customer_t.c.id)
                    .where(customer_t.c.tier.is_not(None), ~self._has_revenue())
                    .limit(limit - len(changes))
                ).scalars()
            ]
        return changes

    def _roomy_sorts(self, conn: Connection) -> None:
        """PostgreSQL: sort and hash the ranking in memory for this transaction, not on disk."""
        if not self.is_sqlite:
            from sqlalchemy import text

            conn.execute(text("SET LOCAL work_mem = '64MB'"))

    def _write_tiers_in_bulk(self, conn: Connection) -> int:
        """Two set-based statements: the ranking into ``tier``, NULL where there is no revenue."""
        self._roomy_sorts(conn)
        tiered = self._tier_select()
        ranked = conn.execute(
            update(customer_t)
            .where(and_(customer_t.c.id == tiered.c.customer_id,
                        customer_t.c.tier.is_distinct_from(tiered.c.tier)))
            .values(tier=tiered.c.tier)
        ).rowcount
        cleared = conn.execute(
            update(customer_t)
            .where(customer_t.c.tier.is_not(None), ~self._has_revenue())
            .values(tier=None)
        ).rowcount
        return int(ranked) + int(cleared)
