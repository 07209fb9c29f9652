"""When an owned customer falls back to the open sea (DESIGN §4), as one pure function.

Used by recycling, by *Due today* and by the portrait, so the rule is written once;
``recycles_by`` is the same rule as a SQL condition, for recycling's candidates and the
dashboard's counts (tests check it agrees with ``recycle_deadline``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, literal, or_, select
from sqlalchemy.sql import ColumnElement

from crm_tui.store.schema.tables import customer as customer_t
from crm_tui.store.schema.tables import deal as deal_t


@dataclass(frozen=True)
class RecycleDeadline:
    at: datetime
    rule: str  # the setting that fires: recycle_after_days or recycle_no_deal_days


def recycle_deadline(
    *,
    claimed_at: datetime | None,
    last_follow_up_at: datetime | None,
    locked: bool,
    has_won_deal: bool,
    rules: dict[str, Any],
) -> RecycleDeadline | None:
    """The earliest moment a rule returns this owned customer to the open sea, or None if never."""
    if locked or (has_won_deal and rules["recycle_exempt_won"]):
        return None
    candidates: list[RecycleDeadline] = []
    after = int(rules["recycle_after_days"])
    starts = [moment for moment in (claimed_at, last_follow_up_at) if moment is not None]
    if after > 0 and starts:
        candidates.append(RecycleDeadline(max(starts) + timedelta(days=after), "recycle_after_days"))
    no_deal = int(rules["recycle_no_deal_days"])
    if no_deal > 0 and claimed_at is not None and not has_won_deal:
        candidates.append(RecycleDeadline(claimed_at + timedelta(days=no_deal), "recycle_no_deal_days"))
    return min(candidates, key=lambda d: d.at) if candidates else None


def recycles_by(
    horizon: datetime, rules: dict[str, Any], *, whole_book: bool = True
) -> ColumnElement[bool]:
    """True for an owned customer that ``recycle_deadline`` sends back to the open
    sea at or before ``horizon`` (the same rule, written as SQL; ``tests/test_stats.py``
    checks the two agree).

    "Has a won deal" is tested last, only for customers whose dates already qualify. Over
    a team or the whole book (``whole_book``) it is ``id IN (customers with a won deal)``,
    a subquery without correlation that both databases build once (SQLite an ephemeral
    index, PostgreSQL a hashed subplan); for one rep or a team, a correlated EXISTS probes
    the deals of those few customers only."""
    claimed, last = customer_t.c.claimed_at, customer_t.c.last_follow_up_at
    no_won: ColumnElement[bool]
    if whole_book:
        no_won = customer_t.c.id.not_in(
            select(deal_t.c.customer_id).where(deal_t.c.stage == "won"))
    else:
        no_won = ~exists().where(deal_t.c.customer_id == customer_t.c.id,
                                 deal_t.c.stage == "won")
    exempt_won = bool(rules["recycle_exempt_won"])
    fired: list[ColumnElement[bool]] = []
    after = int(rules["recycle_after_days"])
    if after > 0:
        cutoff = horizon - timedelta(days=after)
        fired.append(and_(
            or_(claimed.is_not(None), last.is_not(None)),
            or_(claimed.is_(None), claimed <= cutoff),
            or_(last.is_(None), last <= cutoff),
        ))
    no_deal = int(rules["recycle_no_deal_days"])
    if no_deal > 0:
        dates = and_(claimed.is_not(None), claimed <= horizon - timedelta(days=no_deal))
        # With won customers exempt anyway, the outer test below covers this one.
        fired.append(dates if exempt_won else and_(dates, no_won))
    if not fired:
        return literal(False)
    conditions = [customer_t.c.locked.is_(False), or_(*fired)]
    if exempt_won:
        conditions.append(no_won)
    return and_(*conditions)
