"""The portrait as Rich renderables: ``crm show`` prints them, the TUI portrait draws the same ones.

Nothing here imports Textual (the CLI stays light); the portrait screen and its widgets
(``widgets/value_badges.py``, ``widgets/timeline.py``) call these builders, so the terminal
portrait and the screen say the same things in the same order. User text is always wrapped in
``Text`` (never parsed as markup) and passed through ``printable``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from crm_tui.i18n import _
from crm_tui.present.format import count, money, short_date, short_datetime
from crm_tui.present.textsafe import printable

TIER_STYLES = {"A": "bold green", "B": "bold yellow", "C": "bold blue"}


def _t(value: object, style: str = "") -> Text:
    return Text(printable(value), style=style)


def section_title(title: str) -> Text:
    return Text(title, style="bold underline")


def next_follow_up_phrase(next_at: date | None, today: date) -> tuple[str, str]:
    """'2026-06-20 (in 5 days)' / '(3 days overdue)' / '(today)', and a style for it."""
    if next_at is None:
        return _("none planned"), "dim"
    days = (next_at - today).days
    if days < 0:
        return (_("{date} ({overdue})").format(date=short_date(next_at), overdue=count(
            -days, "{n} day overdue", "{n} days overdue")), "bold red")
    if days == 0:
        return _("{date} (today)").format(date=short_date(next_at)), "bold yellow"
    return _("{date} ({within})").format(date=short_date(next_at), within=count(
        days, "in {n} day", "in {n} days")), ""


def header_card(portrait: Any, today: date) -> Group:
    """Name and company, then owner, status, tier, lock and the follow-up clock."""
    c = portrait.customer
    title = Text()
    title.append(printable(c.name), style="bold")
    title.append(f"  #{c.id}", style="dim")
    if c.company:
        title.append("  " + printable(c.company))
    if c.tier:
        title.append("  ")
        title.append(f" {c.tier} ", style=f"reverse {TIER_STYLES.get(c.tier, '')}")
    if c.locked:
        title.append("  ")
        title.append(_("locked"), style="bold magenta")
    facts = Table.grid(padding=(0, 1))
    for _i in range(4):
        facts.add_column()
    owner = (
        _t(f"{c.owner_name or c.owner} ({c.owner})" if c.owner_name and c.owner_name != c.owner else c.owner)
        if c.owner else Text(_("open sea"), style="italic cyan")
    )
    days_since = portrait.days_since_follow_up
    if c.last_follow_up_at is None:
        since = Text(_("never"), style="dim")
    else:
        phrase = (_("today") if not days_since else _("1 day ago") if days_since == 1
                  else _("{n} days ago").format(n=days_since))
        since = Text(phrase, style="bold red" if days_since and days_since > 14 else "")
    next_text, next_style = next_follow_up_phrase(c.next_follow_up_at, today)
    if portrait.days_to_recycle is None:
        recycle = Text(_("exempt") if c.owner else "-", style="dim")
    else:
        recycle = Text(count(portrait.days_to_recycle, "{n} day", "{n} days"),
                       style="bold red" if portrait.days_to_recycle <= 3 else "")
    label = "dim"
    facts.add_row(Text(_("owner"), style=label), owner,
                  Text(_("status"), style=label), _t(c.status))
    facts.add_row(Text(_("last follow-up"), style=label), since,
                  Text(_("next follow-up"), style=label), Text(next_text, style=next_style))
    facts.add_row(Text(_("recycled in"), style=label), recycle,
                  Text(_("kind"), style=label), _t(c.kind))
    place = [printable(v) for v in (c.industry, c.region, c.address) if v]
    facts.add_row(Text(_("where"), style=label), Text(" · ".join(place) or "-"),
                  Text(_("source"), style=label), _t(c.source or "-"))
    if c.owner is None and c.release_reason:
        rule = rule_move(c.release_reason) if not c.released_by else None
        why = (_("recycled by rule {rule} ({why})").format(rule=rule[0], why=rule[1]) if rule
               else f"{c.released_by}: {c.release_reason}" if c.released_by else c.release_reason)
        facts.add_row(Text(_("released"), style=label), _t(why), Text(""), Text(""))
    # The phone and email on lines of their own, never cut: the number a rep dials.
    reach = Table.grid(padding=(0, 1))
    reach.add_column()
    reach.add_column(no_wrap=True, overflow="ignore")
    for key, value in ((_("phone"), c.phone), (_("email"), c.email)):
        if value:
            reach.add_row(Text(key, style=label), Text(printable(value)))
    return Group(title, facts, reach) if reach.row_count else Group(title, facts)


def completeness_bar(share: float, missing: Sequence[str], width: int = 20) -> Text:
    """``██████████████░░░░░░ 78 %  missing: email, address``."""
    filled = round(share * width)
    style = "green" if share >= 0.8 else "yellow" if share >= 0.5 else "red"
    bar = Text()
    bar.append("█" * filled, style=style)
    bar.append("░" * (width - filled), style="dim")
    bar.append(f" {round(share * 100)} %")
    if missing:
        bar.append("  " + _("missing: {fields}").format(fields=", ".join(_(m) for m in missing)),
                   style="dim")
    return bar


def value_text(value: Any) -> Group:
    """Established and potential value, RFM segment and tier, then the completeness bar."""
    line = Text()
    line.append(_("established") + " ", style="dim")
    line.append(money(value.established), style="bold")
    line.append("   " + _("potential") + " ", style="dim")
    line.append(money(value.potential), style="bold")
    line.append("   " + _("RFM") + " ", style="dim")
    line.append(_(value.rfm_segment), style="bold")
    line.append("   " + _("tier") + " ", style="dim")
    if value.tier:
        line.append(f" {value.tier} ", style=f"reverse {TIER_STYLES.get(value.tier, '')}")
    else:
        line.append("-")
    bar = Text(_("completeness") + " ", style="dim")
    bar.append_text(completeness_bar(value.completeness, value.missing))
    return Group(line, bar)


def timeline_text(follow_ups: Sequence[Any], more: int = 0) -> Text:
    """The follow-up timeline, newest first: when, channel, rep, next date, then the summary."""
    text = Text()
    if not follow_ups:
        text.append(_("No follow-ups yet."), style="dim")
        return text
    for index, f in enumerate(follow_ups):
        if index:
            text.append("\n")
        text.append(short_datetime(f.at), style="bold")
        # The channel in words, no mark: ☎ and ✉ have emoji forms some terminals draw two
        # cells wide, shifting the rest of the line and leaving debris behind it.
        text.append(f"  {_(f.channel)}", style="cyan")
        text.append("  " + printable(f.rep), style="magenta")
        if f.next_at:
            text.append("  → " + short_date(f.next_at), style="dim")
        text.append("\n  ")
        text.append(printable(f.summary).replace("\n", "\n  "))
    if more:
        text.append("\n")
        text.append(count(more, "… {n} older follow-up", "… {n} older follow-ups"),
                    style="dim italic")
    return text


def contacts_table(contacts: Sequence[Any]) -> RenderableType:
    if not contacts:
        return Text(_("No contacts."), style="dim")
    table = Table(box=None, header_style="bold", pad_edge=False, expand=False)
    for col in (_("name"), _("title"), _("phone"), _("email"), _("wechat")):
        table.add_column(col)
    for ct in contacts:
        name = _t(ct.name)
        if ct.is_primary:
            name.append(" ★", style="yellow")
        table.add_row(name, _t(ct.title), _t(ct.phone), _t(ct.email), _t(ct.wechat))
    return table


def deals_table(deals: Sequence[Any]) -> RenderableType:
    if not deals:
        return Text(_("No deals."), style="dim")
    table = Table(box=None, header_style="bold", pad_edge=False)
    for col in (_("id"), _("title"), _("stage"), _("amount"), _("close")):
        table.add_column(col, justify="right" if col == _("amount") else "left")
    stage_styles = {"won": "bold green", "lost": "dim strike"}
    for d in deals:
        stage = _(d.stage)
        if d.stage not in ("won", "lost"):
            stage += f" {int(d.probability * 100)}%"
        table.add_row(str(d.id), _t(d.title), Text(stage, style=stage_styles.get(d.stage, "")),
                      money(d.amount), short_date(d.closed_at or d.expected_close))
    return table


_RULE_REASON = re.compile(r"recycled: (?P<why>.+) \(rule (?P<rule>[a-z_]+)\)")


def rule_move(reason: str | None) -> tuple[str, str] | None:
    """The rule and what it means, from the reason a rule's move records
    (``store/sea/recycle.py``'s ``recycle_reason``), or None for a person's reason."""
    found = _RULE_REASON.fullmatch(reason or "")
    return (found["rule"], found["why"]) if found else None


def ownership_table(events: Sequence[Any]) -> RenderableType:
    if not events:
        return Text(_("No ownership changes."), style="dim")
    table = Table(box=None, header_style="bold", pad_edge=False)
    for col in (_("when"), _("what"), _("by"), _("from"), _("to"), _("reason")):
        table.add_column(col)
    for o in events:
        # A rule's move has no actor: "by" names the rule, the reason says what it means.
        rule = rule_move(o.reason) if o.actor is None else None
        by = _("rule {rule}").format(rule=rule[0]) if rule else o.actor or "-"
        table.add_row(short_datetime(o.at), _(o.kind), _t(by), _t(o.from_rep or "-"),
                      _t(o.to_rep or _("open sea")), _t(rule[1] if rule else o.reason))
    return table


def audit_table(audit: Sequence[Any]) -> RenderableType:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for col in (_("when"), _("by"), _("what"), _("field"), _("old"), _("new")):
        table.add_column(col)
    for a in audit:
        table.add_row(short_datetime(a.at), _t(a.actor), a.action, _t(a.field), _t(a.old), _t(a.new))
    return table


def details_text(customer: Any) -> Group:
    """Tags, notes and the imported ``extra`` fields."""
    parts: list[RenderableType] = []
    tags = Text(_("tags") + " ", style="dim")
    if customer.tags:
        for tag in customer.tags:
            tags.append(f" {printable(tag)} ", style="reverse")
            tags.append(" ")
    else:
        tags.append("-")
    parts.append(tags)
    if customer.notes:
        parts += [Text(_("notes"), style="dim"), _t(customer.notes)]
    if customer.extra:
        extra = Table.grid(padding=(0, 2))
        extra.add_column(style="dim")
        extra.add_column()
        for key, value in customer.extra.items():
            extra.add_row(_t(key), _t(value))
        parts += [Text(_("other fields"), style="dim"), extra]
    return Group(*parts)


def portrait_text(portrait: Any, today: date | None = None, more_follow_ups: int = 0) -> Group:
    """The whole portrait, in the screen's order: card, value, contacts, deals, follow-ups, …"""
    today = today or date.today()
    parts: list[RenderableType] = [
        header_card(portrait, today),
        Text(""),
        value_text(portrait.value),
        Text(""),
        details_text(portrait.customer),
        Text(""),
        section_title(_("Contacts")),
        contacts_table(portrait.contacts),
        Text(""),
        section_title(_("Deals")),
        deals_table(portrait.deals),
        Text(""),
        section_title(_("Follow-ups")),
        timeline_text(portrait.follow_ups, more_follow_ups),
        Text(""),
        section_title(_("Ownership history")),
        ownership_table(portrait.ownership),
    ]
    if portrait.audit:
        parts += [Text(""), section_title(_("Change history")), audit_table(portrait.audit)]
    return Group(*parts)
