"""The company rules (DESIGN §4 open-sea rules and the other settings), with defaults and
validation, and who may change them.

They are the company's: every rep, manager and admin reads them, only an admin changes them
(DESIGN §5: company rules are the admins'). A manager's say over rules comes with the pools they
administer (DESIGN §16), each with its own values; until pools exist there is one set of rules.
This module loads no SQLAlchemy: the app's process uses it for the rules screen, and unpickles
the refusal below when the store's helper sends it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crm_tui.store.errors import RuleRefused, ValidationError
from crm_tui.store.records import Record

if TYPE_CHECKING:
    from crm_tui.store.records import Actor

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

CAP_RULES = ("private_cap", "lock_cap")
"""The rules that bound what a rep holds; lowering one can leave reps holding more than it."""


def may_change_rules(actor: Actor) -> bool:
    """Whether ``actor`` may change the company rules: admins only (everyone reads them)."""
    return actor.is_admin


@dataclass
class OverCap(Record):
    """A rep who would hold more than a cap after a change of the rules."""

    rule: str
    """``private_cap`` (customers owned, locked ones too) or ``lock_cap`` (locked customers)."""
    login: str
    name: str
    holds: int
    """How many the rep holds now."""
    cap: int
    """The cap after the change."""


def over_cap_sentence(over: Sequence[OverCap]) -> str:
    """The reps a change would put over a cap, as one phrase per rule: "private_cap 21: wang
    owns 42, li owns 30"."""
    parts = []
    for rule in CAP_RULES:
        reps = [item for item in over if item.rule == rule]
        if reps:
            verb = "owns" if rule == "private_cap" else "has locked"
            held = ", ".join(f"{item.login} {verb} {item.holds}" for item in reps)
            parts.append(f"{rule} {reps[0].cap}: {held}")
    return "; ".join(parts)


class OverCapRefused(RuleRefused):
    """A change of the rules would leave reps holding more than a cap, and was not confirmed.

    ``over`` names each rep and count; nothing was changed. Saying yes (``crm rules --yes``,
    the rules screen's confirmation) makes the same change with ``over_cap_ok``.
    """

    def __init__(self, over: list[OverCap]) -> None:
        reps = len({item.login for item in over})
        super().__init__(
            over[0].rule,
            f"This change puts {reps} {'rep' if reps == 1 else 'reps'} over a cap "
            f"({over_cap_sentence(over)}), so nothing was changed; confirm it (`crm rules --set "
            "... --yes`) to change it anyway: they keep what they hold but may claim or lock no "
            "more until under it.",
        )
        self.over = over


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
