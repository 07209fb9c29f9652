"""Field validation shared by every write path (CLI, TUI, import).

Each validator returns the normalised value or raises ``ValidationError`` naming the field.
Phone numbers become E.164 (``138 0013 8000`` and ``+86 13800138000`` are one number); emails are
checked with email-validator and stored case-folded, so comparisons are simple equality. Statuses,
kinds and tiers are understood in the words of ``domain`` (意向, 个人, A类) and stored canonical.
Tags have one parser, ``parse_tags``, for the CLI, the forms and the importer.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from crm_tui.store.domain import (
    CHANNELS,
    CUSTOMER_KINDS,
    KIND_WORDS,
    ROLES,
    STAGES,
    STATUS_WORDS,
    STATUSES,
    TIER_WORDS,
    TIERS,
)
from crm_tui.store.errors import ValidationError

LIMITS = {
    "name": 200,
    "company": 200,
    "industry": 100,
    "region": 100,
    "address": 300,
    "source": 100,
    "notes": 10_000,
    "summary": 5_000,
    "title": 200,
    "contact_name": 100,
    "wechat": 64,
    "reason": 500,
    "login": 64,
    "rep_name": 100,
    "team": 64,
    "tag": 50,
}

# C0/C1 controls other than tab and newline never belong in stored text; ESC in particular
# would let a name drive the terminal. They are rejected, not silently stripped.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bytes that were not UTF-8 reach Python as lone surrogates (surrogateescape); no database
# can store them, so they are refused like control characters.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Invisible characters that make one word look like another or reorder the line on screen
# (zero-width, bidirectional controls); refused in values that are shown as chosen labels.
_FORMAT = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def text(field: str, value: object, *, required: bool = False, limit: int | None = None,
         multiline: bool = False) -> str | None:
    """A trimmed text value within its length limit; None when empty and not required."""
    if value is None:
        raw = ""
    elif isinstance(value, str):
        raw = value
    else:
        raw = str(value)
    cleaned = unicodedata.normalize("NFC", raw).strip()
    if not cleaned:
        if required:
            raise ValidationError(field, "is required")
        return None
    if not multiline and ("\n" in cleaned or "\r" in cleaned):
        cleaned = " ".join(cleaned.split())
    if _SURROGATE.search(cleaned):
        raise ValidationError(field, "is not valid text: it holds bytes that are not in the "
                              "text's encoding (a file mixing encodings, say)")
    bad = _CONTROL.search(cleaned)
    if bad:
        raise ValidationError(field, f"contains the control character U+{ord(bad.group()):04X}")
    maximum = limit or LIMITS.get(field, 200)
    if len(cleaned) > maximum:
        raise ValidationError(field, f"is {len(cleaned)} characters long; the limit is {maximum}")
    return cleaned


def phone(value: object, region: str = "CN", field: str = "phone") -> str | None:
    """Parse a phone number and return it in E.164, or None when empty."""
    raw = text(field, value, limit=40)
    if raw is None:
        return None
    import phonenumbers

    try:
        parsed = phonenumbers.parse(raw, region or None)
    except phonenumbers.NumberParseException:
        raise ValidationError(field, f"{raw!r} is not a phone number") from None
    if not phonenumbers.is_possible_number(parsed) or not phonenumbers.is_valid_number(parsed):
        raise ValidationError(field, f"{raw!r} is not a valid phone number for region {region}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def email(value: object, field: str = "email") -> str | None:
    """Check an email address and return it case-folded, or None when empty."""
    raw = text(field, value, limit=254)
    if raw is None:
        return None
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationError(field, f"{raw!r} is not a valid email address ({exc})") from None
    return result.normalized.casefold()


def choice(field: str, value: object, options: tuple[str, ...], default: str | None = None,
           words: Mapping[str, str] | None = None) -> str:
    """One of ``options`` (compared case-folded), or the option one of ``words`` stands for."""
    raw = text(field, value, limit=32)
    if raw is None:
        if default is None:
            raise ValidationError(field, f"is required; one of {', '.join(options)}")
        return default
    lowered = raw.lower()
    if words:
        lowered = words.get(raw) or words.get(raw.casefold()) or lowered
    if lowered not in options:
        raise ValidationError(field, f"must be one of {', '.join(options)}, not {raw!r}")
    return lowered


def kind(value: object) -> str:
    """``company`` or ``person`` (also 公司, 个人, ...); ``company`` when empty."""
    return choice("kind", value, CUSTOMER_KINDS, "company", KIND_WORDS)


def status(value: object) -> str:
    """``lead``, ``intent``, ``deal`` or ``lost`` (also 线索, 意向, 成交, 流失, ...); ``lead`` when empty."""
    return choice("status", value, STATUSES, "lead", STATUS_WORDS)


def tier(value: object) -> str | None:
    """``A``, ``B`` or ``C`` (also a, A类, B级, ...), or None when empty."""
    raw = text("tier", value, limit=8)
    if raw is None:
        return None
    upper = raw[:1].upper() + raw[1:]
    found = upper if upper in TIERS else TIER_WORDS.get(upper)
    if found is None:
        raise ValidationError("tier", f"must be one of {', '.join(TIERS)}, not {raw!r}")
    return found


def channel(value: object) -> str:
    return choice("channel", value, CHANNELS, "call")


def stage(value: object) -> str:
    return choice("stage", value, STAGES, "prospecting")


def role(value: object) -> str:
    return choice("role", value, ROLES, "rep")


def login(value: object) -> str:
    raw = text("login", value, required=True)
    assert raw is not None
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*", raw):
        raise ValidationError("login", f"{raw!r} must be letters, digits, '_', '.' or '-'")
    return raw


_AMOUNT = re.compile(r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?")
"""An amount as written: ASCII digits, commas only between groups of three, a decimal point."""


def amount(value: object, field: str = "amount") -> Decimal:
    """A non-negative money amount with at most two decimals.

    Thousands separators are accepted only where they separate thousands (``1,234.50``), so
    ``1,2,3`` is refused rather than read as 123; digits are ASCII (full-width ones become
    ASCII), so Arabic-Indic ``١٢٣`` is refused rather than read as 123.
    """
    raw = text(field, value, required=True, limit=20)
    assert raw is not None
    written = unicodedata.normalize("NFKC", raw).replace("¥", "").replace("$", "").strip()
    if not _AMOUNT.fullmatch(written):
        raise ValidationError(field, f"{raw!r} is not an amount (such as 1234.50 or 1,234.50)")
    try:
        result = Decimal(written.replace(",", ""))
    except InvalidOperation:
        raise ValidationError(field, f"{raw!r} is not an amount") from None
    if not result.is_finite():
        raise ValidationError(field, f"{raw!r} is not an amount")
    if result < 0:
        raise ValidationError(field, "must not be negative")
    if result >= Decimal("1e12"):
        raise ValidationError(field, "is too large (the limit is 999,999,999,999.99)")
    if result != result.quantize(Decimal("0.01")):
        raise ValidationError(field, "has more than two decimals")
    return result.quantize(Decimal("0.01"))


def whole_number(field: str, value: object, *, least: int = 0, most: int = 1_000_000) -> int:
    """A whole number written in ASCII digits (``int()`` would also take ``١٢٣`` and ``1_0``),
    between ``least`` and ``most``."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raw = str(value).strip()
        if not re.fullmatch(r"[+-]?[0-9]{1,18}", raw):
            raise ValidationError(field, f"must be a whole number, not {raw[:40]!r}")
        number = int(raw)
    if number < least:
        raise ValidationError(field, "must not be negative" if least == 0
                              else f"must be at least {least}")
    if number > most:
        raise ValidationError(field, f"must be at most {most}")
    return number


EARLIEST = date(1900, 1, 1)
LATEST = date(9998, 12, 31)
"""The dates a user may give: far enough from the calendar's ends that time zones and the
day arithmetic of reminders and recycling cannot overflow."""


def _in_range(field: str, raw: object, day: date) -> None:
    if not EARLIEST <= day <= LATEST:
        raise ValidationError(field, f"{raw!s:.40} is out of range: use a date between "
                              f"{EARLIEST.isoformat()} and {LATEST.isoformat()}")


def parse_date(field: str, value: object, today: date | None = None) -> date | None:
    """A date as YYYY-MM-DD, or a relative +Nd / +Nw / today / tomorrow."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raw = text(field, value, limit=32)
    if raw is None:
        return None
    lowered = raw.lower()
    base = today or date.today()
    if lowered == "today":
        return base
    if lowered == "tomorrow":
        return base + timedelta(days=1)
    match = re.fullmatch(r"\+([0-9]{1,4})([dw])", lowered)
    if match:
        count = int(match.group(1))
        return base + timedelta(days=count * (7 if match.group(2) == "w" else 1))
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(field, f"{raw!r} is not a date (use YYYY-MM-DD or +3d)") from None
    _in_range(field, raw, day)
    return day


def parse_datetime(field: str, value: object) -> datetime | None:
    """A timestamp in ISO form; naive values are local time. Returned aware, in UTC."""
    if isinstance(value, datetime):
        parsed = value
    else:
        raw = text(field, value, limit=40)
        if raw is None:
            return None
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            raise ValidationError(
                field, f"{raw!r} is not a date and time (use YYYY-MM-DD HH:MM)"
            ) from None
    _in_range(field, value, parsed.date())
    try:
        if parsed.tzinfo is None:
            parsed = parsed.astimezone()
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError, OSError):  # beyond what the platform's clock can convert
        raise ValidationError(field, f"{value!s:.40} is out of range") from None


_KEY_STRIP = re.compile(r"[\W_]+", re.UNICODE)


def label(field: str, value: object, *, limit: int = 100) -> str:
    """A short single-line label a rule offers as a choice (a release reason): visible text
    only, no control or invisible formatting characters, at most ``limit`` characters."""
    raw = value if isinstance(value, str) else str(value)
    if "\n" in raw or "\r" in raw:
        raise ValidationError(field, "must be one line")
    cleaned = text(field, raw, required=True, limit=limit)
    assert cleaned is not None
    bad = _FORMAT.search(cleaned)
    if bad:
        raise ValidationError(field, f"contains the invisible character U+{ord(bad.group()):04X}")
    return cleaned


def name_key(name: str) -> str:
    """The duplicate-check key of a name: NFKC, case-folded, without spaces and punctuation."""
    return _KEY_STRIP.sub("", unicodedata.normalize("NFKC", name).casefold())[:200]


# --- tags ------------------------------------------------------------------------------------

# What separates tags in one piece of text: commas and semicolons, Latin and Chinese, the
# enumeration comma 、, a bar and a line break. ``crm export`` writes a tag holding one of these
# as a JSON list, which ``parse_tags`` reads back.
TAG_SEPARATORS = (",", ";", "，", "；", "、", "|", "\n")
_TAG_SPLIT = re.compile("[" + re.escape("".join(TAG_SEPARATORS)) + "]+")


def tags(values: Iterable[object]) -> list[str]:
    """Tags already split: each validated (trimmed, within ``LIMITS['tag']``), empty ones and
    repeats dropped, in the order given."""
    found: dict[str, None] = {}
    for value in values:
        cleaned = text("tag", value, limit=LIMITS["tag"])
        if cleaned:
            found.setdefault(cleaned)
    return list(found)


def parse_tags(value: str | Iterable[str] | None) -> list[str]:
    """The tags in typed or imported text, validated: the one tag parser of the CLI, the forms
    and ``crm import``.

    Text is split at ``TAG_SEPARATORS`` (``VIP, 华东；重点`` is three tags), except a JSON list
    of strings (``["a, b", "c"]``, as ``crm export`` writes a tag holding a separator), which is
    taken as it is. Each tag is trimmed and checked; empty ones and repeats are dropped. Several
    texts (``--tag`` given more than once) are parsed one by one and joined.
    """
    if value is None:
        return []
    if not isinstance(value, str):
        return tags(tag for part in value for tag in _split_tags(part))
    return tags(_split_tags(value))


def _split_tags(value: str) -> list[str]:
    stripped = value.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        try:
            loaded = json.loads(stripped)
        except ValueError:
            loaded = None
        if isinstance(loaded, list) and all(isinstance(i, (str, int, float)) for i in loaded):
            return [str(item) for item in loaded]
    return _TAG_SPLIT.split(stripped)


# --- a customer and a contact ----------------------------------------------------------------


@dataclass
class CustomerInput:
    """Validated customer fields, ready to write."""

    name: str
    kind: str = "company"
    company: str | None = None
    industry: str | None = None
    region: str | None = None
    address: str | None = None
    phone: str | None = None
    email: str | None = None
    source: str | None = None
    status: str = "lead"
    tier: str | None = None
    notes: str | None = None


def customer(fields: Mapping[str, Any], region: str) -> CustomerInput:
    """A customer's raw field values (as typed or imported) validated; the first bad one raises.

    Phone numbers without a country code are read for ``region`` (the ``default_phone_region``
    setting). A plain function of its arguments, so the importer's worker processes apply
    exactly the rules the store does.
    """
    return CustomerInput(
        name=text("name", fields.get("name"), required=True) or "",
        kind=kind(fields.get("kind")),
        company=text("company", fields.get("company")),
        industry=text("industry", fields.get("industry")),
        region=text("region", fields.get("region")),
        address=text("address", fields.get("address")),
        phone=phone(fields.get("phone"), region),
        email=email(fields.get("email")),
        source=text("source", fields.get("source")),
        status=status(fields.get("status")),
        tier=tier(fields.get("tier")),
        notes=text("notes", fields.get("notes"), multiline=True),
    )


def contact(fields: Mapping[str, Any], region: str) -> dict[str, Any]:
    """A contact's raw field values validated, as the ``contact`` table's columns."""
    return dict(
        name=text("contact name", fields.get("name"), required=True, limit=100),
        title=text("title", fields.get("title"), limit=100),
        phone=phone(fields.get("phone"), region, field="contact phone"),
        email=email(fields.get("email"), field="contact email"),
        wechat=text("wechat", fields.get("wechat")),
        is_primary=bool(fields.get("is_primary")),
    )
