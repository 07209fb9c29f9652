"""Customer value (DESIGN §3): established and potential value, RFM segment, tier, completeness."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select

from .base import StoreBase
from .models import OPEN_STAGES, STAGE_PROBABILITY, Contact, Deal
from .records import Value

deal_t = Deal.__table__  # type: ignore[attr-defined]
contact_t = Contact.__table__  # type: ignore[attr-defined]

RECENT_DAYS = 180

# The fields a complete customer record has, in the order they are reported missing.
KEY_FIELDS = ("company", "industry", "region", "address", "phone", "email", "source",
              "contact", "next follow-up")


def rfm_segment(won_count: int, last_won_at: datetime | None, now: datetime) -> str:
    """A coarse RFM segment from recency and frequency of won deals (monetary gives the tier)."""
    if won_count == 0 or last_won_at is None:
        return "prospect"
    recent = now - last_won_at <= timedelta(days=RECENT_DAYS)
    if recent:
        return "champion" if won_count >= 2 else "new"
    return "at risk" if won_count >= 2 else "dormant"


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


class AnalyticsOps(StoreBase):
    """Value figures computed in SQL, shared by the portrait, the list and ``crm show``."""

    def _value(self, conn: Connection, customer: Any) -> Value:
        established = Decimal("0")
        potential = Decimal("0")
        won_count = 0
        last_won: datetime | None = None
        for stage, amount, closed_at in conn.execute(
            select(deal_t.c.stage, deal_t.c.amount, deal_t.c.closed_at).where(
                deal_t.c.customer_id == customer.id
            )
        ):
            if stage == "won":
                established += amount
                won_count += 1
                if closed_at is not None and (last_won is None or closed_at > last_won):
                    last_won = closed_at
            elif stage in OPEN_STAGES:
                potential += amount * STAGE_PROBABILITY[stage]
        contacts = int(conn.execute(
            select(func.count()).select_from(contact_t).where(contact_t.c.customer_id == customer.id)
        ).scalar() or 0)
        share, missing = completeness(customer, contacts)
        return Value(
            established=established.quantize(Decimal("0.01")),
            potential=potential.quantize(Decimal("0.01")),
            rfm_segment=rfm_segment(won_count, last_won, self.clock.now()),
            tier=customer.tier,
            completeness=share,
            missing=missing,
        )
