"""Field validation shared by every write path (CLI, TUI, import).

Each validator returns the normalised value or raises ``ValidationError`` naming the field.
Phone numbers become E.164 (``138 0013 8000`` and ``+86 13800138000`` are one number); emails are
checked with email-validator and stored case-folded, so comparisons are simple equality.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from crm_tui.store.domain import CHANNELS, CUSTOMER_KINDS, ROLES, STAGES, STATUSES, TIERS
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
        raise ValidationError(field, "is not valid text (bytes that are not UTF-8)")
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


def choice(field: str, value: object, options: tuple[str, ...], default: str | None = None) -> str:
    raw = text(field, value, limit=32)
    if raw is None:
        if default is None:
            raise ValidationError(field, f"is required; one of {', '.join(options)}")
        return default
    lowered = raw.lower()
    if lowered not in options:
        raise ValidationError(field, f"must be one of {', '.join(options)}, not {raw!r}")
    return lowered


def kind(value: object) -> str:
    return choice("kind", value, CUSTOMER_KINDS, "company")


def status(value: object) -> str:
    return choice("status", value, STATUSES, "lead")


def tier(value: object) -> str | None:
    raw = text("tier", value, limit=1)
    if raw is None:
        return None
    if raw.upper() not in TIERS:
        raise ValidationError("tier", f"must be one of {', '.join(TIERS)}, not {raw!r}")
    return raw.upper()


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


def amount(value: object, field: str = "amount") -> Decimal:
    """A non-negative money amount with at most two decimals."""
    raw = text(field, value, required=True, limit=20)
    assert raw is not None
    try:
        result = Decimal(raw.replace(",", "").replace("¥", "").replace("$", ""))
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
    match = re.fullmatch(r"\+(\d{1,4})([dw])", lowered)
    if match:
        count = int(match.group(1))
        return base + timedelta(days=count * (7 if match.group(2) == "w" else 1))
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(field, f"{raw!r} is not a date (use YYYY-MM-DD or +3d)") from None


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
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()
    return parsed.astimezone(UTC)


_KEY_STRIP = re.compile(r"[\W_]+", re.UNICODE)


def name_key(name: str) -> str:
    """The duplicate-check key of a name: NFKC, case-folded, without spaces and punctuation."""
    return _KEY_STRIP.sub("", unicodedata.normalize("NFKC", name).casefold())[:200]
