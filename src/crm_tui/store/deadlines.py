"""When an owned customer falls back to the open sea (DESIGN §4), as one pure function.

Used by recycling, by *Due today* and by the portrait, so the rule is written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


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
