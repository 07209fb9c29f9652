"""The team's settings (DESIGN §4 open-sea rules and the others), with defaults and validation."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from crm_tui.store.errors import ValidationError

DEFAULT_RELEASE_REASONS = [
    "no budget",
    "no intent",
    "unreachable",
    "went to a competitor",
    "duplicate",
    "other",
]


@dataclass(frozen=True)
class RuleSpec:
    """One setting: its default, its type and what it means."""

    default: Any
    kind: type
    help: str


RULES: dict[str, RuleSpec] = {
    "private_cap": RuleSpec(200, int, "most customers one rep may own (0 = no cap); locked ones count"),
    "daily_claim_limit": RuleSpec(20, int, "most open-sea claims per rep per calendar day (0 = no limit)"),
    "reclaim_cooldown_days": RuleSpec(
        7, int, "days before a rep may re-claim a customer they released or lost to recycling"
    ),
    "recycle_after_days": RuleSpec(
        30, int, "days without follow-up (from the later of claim and last follow-up) before recycling"
    ),
    "recycle_no_deal_days": RuleSpec(
        90, int, "days after claim without a won deal before recycling (0 = off)"
    ),
    "recycle_exempt_won": RuleSpec(True, bool, "customers with a won deal are never recycled"),
    "recycle_warn_days": RuleSpec(3, int, "days before recycling that a customer shows in Due today"),
    "lock_cap": RuleSpec(10, int, "most locked (exempt) customers per rep"),
    "require_release_reason": RuleSpec(True, bool, "releasing needs a reason"),
    "release_reasons": RuleSpec(
        DEFAULT_RELEASE_REASONS, list, "the pick-list of release reasons (free text allowed too)"
    ),
    "mask_pool_contacts": RuleSpec(
        True, bool, "phone, email and contacts of open-sea customers are masked until claimed"
    ),
    "default_phone_region": RuleSpec("CN", str, "region for phone numbers without a country code"),
}

# Internal state kept in the same table but never shown as a rule.
STATE_PREFIX = "state."
LAST_RECYCLE_KEY = "state.last_recycle_at"


LIST_RULE_ITEMS = 50
LIST_RULE_ITEM_LENGTH = 100
"""A list rule (release reasons) is a pick-list: a few short, visible, one-line entries."""


def parse_rule(key: str, raw: Any) -> Any:
    """Validate and convert a rule value given as text (``crm rules --set``) or as JSON data."""
    spec = RULES.get(key)
    if spec is None:
        known = ", ".join(sorted(RULES))
        raise ValidationError(key, f"unknown setting; known settings are {known}")
    if spec.kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValidationError(key, f"must be true or false, not {raw!r}")
    if spec.kind is int:
        from crm_tui.store.validate import whole_number

        return whole_number(key, raw, least=0, most=1_000_000)
    if spec.kind is list:
        if isinstance(raw, list):
            items = [str(item).strip() for item in raw]
        else:
            text = str(raw).strip()
            if text.startswith("["):
                try:
                    items = [str(item).strip() for item in json.loads(text)]
                except (ValueError, TypeError):
                    raise ValidationError(key, "must be a JSON list or comma-separated text") from None
            else:
                items = [part.strip() for part in text.split(",")]
        items = [item for item in items if item]
        if not items:
            raise ValidationError(key, "must list at least one entry")
        if len(items) > LIST_RULE_ITEMS:
            raise ValidationError(key, f"may list at most {LIST_RULE_ITEMS} entries")
        from crm_tui.store.validate import label

        return [label(key, item, limit=LIST_RULE_ITEM_LENGTH) for item in items]
    from crm_tui.store.validate import label

    text = label(key, raw, limit=LIST_RULE_ITEM_LENGTH)
    if key == "default_phone_region":
        import phonenumbers

        text = text.upper()
        if text not in phonenumbers.SUPPORTED_REGIONS:
            raise ValidationError(key, f"{raw!r} is not a known region code such as CN or US")
    return text


def rule_values(stored: Iterable[Sequence[Any]]) -> dict[str, Any]:
    """Every rule of ``RULES`` with its value: the stored ``(key, text)`` pairs decoded, the
    defaults where unset. The one reading of stored rules (``rules()`` and the claim's read)."""
    values = {key: spec.default for key, spec in RULES.items()}
    for key, raw in stored:
        if key in values:
            values[key] = decode(key, raw)
    return values


def encode(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def decode(key: str, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return RULES[key].default if key in RULES else text
