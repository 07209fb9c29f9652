"""What the open-sea browser says beside its table: my standing against the claim rules, and the
detail lines of the customer under the cursor (why it is in the sea, since when, by whom, the
last follow-up).

Nothing here imports Textual; user text is wrapped in ``Text`` (never parsed as markup) and
passed through ``printable``. Emphasis is bold or dim only: colours are the screen's (its
stylesheet uses the theme's variables).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from rich.text import Text

from crm_tui.i18n import _
from crm_tui.present.format import short_date
from crm_tui.present.textsafe import printable

if TYPE_CHECKING:
    from crm_tui.store.records import CustomerRecord
    from crm_tui.store.reports import ClaimStatus


def released_by(record: CustomerRecord) -> str:
    """Who sent it to the open sea: the rep, ``rule`` for recycling, empty when created there."""
    if record.released_by:
        return record.released_by
    if (record.release_reason or "").startswith("recycled"):
        return _("rule")
    return ""


def entered_cell(entered: datetime | None, days_in_pool: int | None) -> str:
    """The *Entered* cell: ``06-10 20d`` (month-day it entered the sea and days since)."""
    if entered is None:
        return ""
    when = entered.astimezone().strftime("%m-%d")
    return when if days_in_pool is None else _("{when} {n}d").format(when=when, n=days_in_pool)


def claims_line(status: ClaimStatus) -> str:
    """``My private sea: 3 of 200 · claims today: 1 of 20`` (or ``no cap`` / ``no limit``)."""
    mine = (_("My private sea: {owned} of {cap}").format(owned=status.owned, cap=status.private_cap)
            if status.private_cap
            else _("My private sea: {owned} (no cap)").format(owned=status.owned))
    today = (_("claims today: {n} of {limit}").format(n=status.claimed_today,
                                                      limit=status.daily_claim_limit)
             if status.daily_claim_limit
             else _("claims today: {n} (no limit)").format(n=status.claimed_today))
    return f"{mine} · {today}"


def claims_used_up(status: ClaimStatus) -> bool:
    """Whether a claim would be refused now: my private sea is full or today's claims are spent."""
    full = bool(status.private_cap) and status.owned >= status.private_cap
    spent = bool(status.daily_claim_limit) and status.claimed_today >= status.daily_claim_limit
    return full or spent


def sea_detail(record: CustomerRecord, days_in_pool: int | None, last_summary: str | None) -> Text:
    """Three lines on one open-sea customer: name, company and (perhaps masked) contacts; why,
    since when and by whom it is in the sea; the latest follow-up."""
    text = Text()
    text.append(printable(record.name), style="bold")
    if record.company:
        text.append("  " + printable(record.company))
    if record.phone or record.email:
        text.append("  " + " ".join(printable(v) for v in (record.phone, record.email) if v))
        if record.masked:
            text.append("  " + _("(contacts masked until claimed)"), style="dim")
    text.append("\n")
    since = short_date(record.pool_entered_at) if record.pool_entered_at else ""
    days = days_in_pool if days_in_pool is not None else "?"
    by = released_by(record)
    if record.release_reason:
        text.append(_("In the sea since {since} ({days} days): {why}").format(
            since=since, days=days, why=printable(record.release_reason)))
        if by:
            text.append(" — " + _("by {who}").format(who=printable(by)))
    elif since:
        text.append(_("In the sea since {since} ({days} days), never owned.").format(
            since=since, days=days))
    text.append("\n")
    if last_summary:
        when = short_date(record.last_follow_up_at)
        text.append(_("Last follow-up {when}: ").format(when=when), style="dim")
        text.append(printable(last_summary.replace("\n", " ")))
    else:
        text.append(_("No follow-up yet."), style="dim")
    return text
