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


def columns(headers: list[str], rows: list[list[str]], *, max_width: int = 32) -> str:
    """Rows as aligned plain-text columns, measured in terminal cells (张伟 is 4 wide).

    Quicker than a Rich table by tens of milliseconds for a page of results, which is most of
    what ``crm find`` costs beyond opening the store.
    """
    from rich.cells import cell_len, set_cell_size

    def fit(text: str) -> str:
        return text if cell_len(text) <= max_width else set_cell_size(text, max_width - 1) + "…"

    cells = [[fit(text) for text in row] for row in [headers, *rows]]
    widths = [max(cell_len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        padded = [text + " " * (width - cell_len(text)) for text, width in zip(row, widths, strict=True)]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)
