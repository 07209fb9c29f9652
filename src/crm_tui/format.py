"""Small formatting helpers shared by the CLI and the screens (dates, money, due phrases)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from crm_tui.i18n import _


def short_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d")
    return value.isoformat()


def short_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone().strftime("%Y-%m-%d %H:%M")


def money(value: Decimal | None) -> str:
    if value is None:
        return ""
    return f"{value:,.2f}"


def due_phrase(item: Any) -> str:
    """'3 days overdue', 'due today', 'in 2 days', 'recycled in 1 day'."""
    days = int(item.days)
    if item.reason == "recycle":
        return _("recycled today") if days == 0 else _("recycled in {n} days").format(n=days)
    if days > 0:
        return _("{n} days overdue").format(n=days)
    if days == 0:
        return _("due today")
    return _("in {n} days").format(n=-days)
