"""The line above a customer listing: what it shows, how many, in which order, with which filters."""

from __future__ import annotations

from collections.abc import Mapping

from crm_tui.i18n import _
from crm_tui.present.textsafe import printable

OPENING = _("Opening the database…")
"""What a listing says before the store is open."""


def customer_count(total: int | None) -> str:
    """``1 customer``, ``1,234 customers``, or ``counting…`` while the count is on its way."""
    if total is None:
        return _("counting…")
    return _("1 customer") if total == 1 else _("{n:,} customers").format(n=total)


def listing_status(scope: str, total: int | None, sorted_by: str | None, descending: bool,
                   filters: Mapping[str, object]) -> str:
    """``My customers · 9 customers · sorted by Name ▲ · filters: tier=A, due``.

    ``sorted_by`` is the sort column's title (None: the line names no order); ``filters`` maps
    each filter to its value, and those without a value are left out (``due`` is a flag).
    """
    parts = [scope, customer_count(total)]
    if sorted_by is not None:
        arrow = "▼" if descending else "▲"
        parts.append(_("sorted by {column} {arrow}").format(column=sorted_by, arrow=arrow))
    shown = [_("due") if name == "due" else f"{name}={printable(value)}"
             for name, value in filters.items() if value]
    if shown:
        parts.append(_("filters: {filters}").format(filters=", ".join(shown)))
    return " · ".join(parts)
