"""The domain's fixed vocabularies (DESIGN §3), importable without any database library."""

from __future__ import annotations

from decimal import Decimal

ROLES = ("rep", "manager", "admin")
CUSTOMER_KINDS = ("company", "person")
STATUSES = ("lead", "intent", "deal", "lost")
TIERS = ("A", "B", "C")
CHANNELS = ("call", "visit", "wechat", "email", "meeting", "other")
STAGES = ("prospecting", "qualified", "proposal", "negotiation", "won", "lost")
OPEN_STAGES = ("prospecting", "qualified", "proposal", "negotiation")
STAGE_PROBABILITY = {
    "prospecting": Decimal("0.10"),
    "qualified": Decimal("0.25"),
    "proposal": Decimal("0.50"),
    "negotiation": Decimal("0.75"),
    "won": Decimal("1"),
    "lost": Decimal("0"),
}
OWNERSHIP_KINDS = ("created", "claimed", "released", "recycled", "transferred", "assigned")
