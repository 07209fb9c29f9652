"""What the store's reports and views return: plain records, free of SQLAlchemy.

They cross from the store's helper process to the TUI (``helper.py``), which unpickles them
without loading the modules that build them (``stats.py``, ``sea.py``, ``portrait.py``,
``analytics.py``); those modules re-export them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from crm_tui.store.records import CustomerRecord, Portrait, Record


@dataclass
class TierRefresh(Record):
    """What a tier refresh did: customers per tier afterwards and how many changed."""

    a: int
    b: int
    c: int
    changed: int
    seconds: float
    bulk: bool


@dataclass
class RecycleItem(Record):
    """A customer recycled to the open sea (or that would be, in a dry run)."""

    customer_id: int
    name: str
    owner: str | None
    """Login of the rep it leaves."""
    rule: str
    """The rule that fired: ``recycle_after_days`` or ``recycle_no_deal_days``."""
    deadline: datetime
    """When the rule fired."""


@dataclass
class TransferResult(Record):
    """What a transfer or a deactivation moved."""

    moved: int
    customers: list[int]
    from_rep: str
    to_rep: str | None
    """None: to the open sea."""
    over_cap: bool = False
    """The receiving rep now owns more than ``private_cap`` (transfers are not blocked by it)."""


@dataclass
class PoolEntry(Record):
    """An open-sea customer with how long it has been there."""

    customer: CustomerRecord
    days_in_pool: int | None

    def as_dict(self) -> dict[str, Any]:
        data = self.customer.as_dict()
        data["days_in_pool"] = self.days_in_pool
        return data


@dataclass
class RepStats(Record):
    """One rep's line of the dashboard."""

    login: str
    name: str
    owned: int = 0
    """Customers in the rep's private sea (the private-sea size)."""
    follow_ups_7d: int = 0
    """Follow-ups the rep logged in the last 7 days."""
    follow_ups_30d: int = 0
    """Follow-ups the rep logged in the last 30 days."""
    overdue: int = 0
    """The rep's customers whose next follow-up date has passed."""
    recycle_soon: int = 0
    """The rep's customers due back to the open sea within ``recycle_warn_days`` (or overdue for it)."""
    won_this_month: int = 0
    """Deals the rep won this calendar month."""
    won_amount_this_month: Decimal = Decimal("0.00")


@dataclass
class StageStats(Record):
    """Deals in one stage of the pipeline; ``weighted`` is amount × the stage's probability."""

    stage: str
    count: int
    amount: Decimal
    weighted: Decimal


@dataclass
class PoolWeek(Record):
    """Customers that entered (released, recycled, created in the pool) and left (claimed) the
    open sea in the week starting on Monday ``week``."""

    week: date
    inflow: int
    outflow: int


@dataclass
class PoolStats(Record):
    size: int
    weeks: list[PoolWeek] = field(default_factory=list)


@dataclass
class Dashboard(Record):
    """Everything the dashboard screen and ``crm stats`` show, for one acting rep."""

    scope: str
    """``own`` (a rep, or a manager without a team), ``team`` (a manager) or ``all`` (an admin)."""
    team: str | None
    generated_at: datetime
    reps: list[RepStats]
    pipeline: list[StageStats]
    tiers: dict[str, int]
    rfm: dict[str, int]
    open_sea: PoolStats

    @property
    def totals(self) -> RepStats:
        """The sum of the rep lines (login ``total``)."""
        total = RepStats(login="total", name="total")
        for line in self.reps:
            for name in ("owned", "follow_ups_7d", "follow_ups_30d", "overdue", "recycle_soon",
                         "won_this_month", "won_amount_this_month"):
                setattr(total, name, getattr(total, name) + getattr(line, name))
        return total


@dataclass
class ClaimStatus(Record):
    """Where a rep stands against the claim rules (the open-sea browser shows it at all times)."""

    owned: int
    private_cap: int
    """0: no cap."""
    claimed_today: int
    daily_claim_limit: int
    """0: no limit."""


@dataclass
class PoolNotes(Record):
    """What the open-sea browser shows beside a customer: its days in the pool and the latest
    follow-up summary (the history stays with the customer when it is released)."""

    customer_id: int
    days_in_pool: int | None
    last_summary: str | None


@dataclass
class PortraitView:
    """A portrait with a window of the newest follow-ups, and how many there are in all."""

    portrait: Portrait
    follow_up_total: int

    @property
    def older_follow_ups(self) -> int:
        return max(0, self.follow_up_total - len(self.portrait.follow_ups))
