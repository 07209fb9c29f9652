"""The portrait as Rich text for ``crm show`` (the TUI draws its own screen)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from crm_tui.format import money, short_date, short_datetime
from crm_tui.i18n import _
from crm_tui.textsafe import printable


def _t(value: object) -> Text:
    return Text(printable(value))


def portrait_text(portrait: Any) -> Group:
    """Header facts, notes, contacts, deals, follow-ups and ownership history, in that order."""
    c = portrait.customer
    header = Text()
    header.append(printable(c.name), style="bold")
    header.append(f"  #{c.id}")
    if c.company:
        header.append("  " + printable(c.company))
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    owner = c.owner or _("open sea")
    rows: list[tuple[str, object]] = [
        (_("owner"), owner + (" " + _("(locked)") if c.locked else "")),
        (_("status"), c.status),
        (_("tier"), c.tier or "-"),
        (_("kind"), c.kind),
        (_("industry"), c.industry),
        (_("region"), c.region),
        (_("address"), c.address),
        (_("phone"), c.phone),
        (_("email"), c.email),
        (_("source"), c.source),
        (_("tags"), ", ".join(c.tags)),
        (_("last follow-up"), short_datetime(c.last_follow_up_at)),
        (_("next follow-up"), short_date(c.next_follow_up_at)),
    ]
    if portrait.days_since_follow_up is not None:
        rows.append((_("days since follow-up"), portrait.days_since_follow_up))
    if portrait.days_to_recycle is not None:
        rows.append((_("days before recycling"), portrait.days_to_recycle))
    if c.owner is None and c.release_reason:
        rows.append((_("released"), f"{c.released_by or ''}: {c.release_reason}"))
    v = portrait.value
    rows += [
        (_("established value"), money(v.established)),
        (_("potential value"), money(v.potential)),
        (_("RFM segment"), v.rfm_segment),
        (_("completeness"), f"{int(v.completeness * 100)}%"
         + (f" ({_('missing')}: {', '.join(v.missing)})" if v.missing else "")),
    ]
    for key, value in (c.extra or {}).items():
        rows.append((printable(key), value))
    for label, value in rows:
        if value not in (None, ""):
            facts.add_row(label, _t(value))
    parts: list[Any] = [header, facts]
    if c.notes:
        parts += [Text(_("Notes"), style="bold"), _t(c.notes)]
    if portrait.contacts:
        table = Table(title=_("Contacts"), title_justify="left", header_style="bold")
        for col in (_("name"), _("title"), _("phone"), _("email"), _("wechat")):
            table.add_column(col)
        for ct in portrait.contacts:
            table.add_row(_t(ct.name + (" *" if ct.is_primary else "")), _t(ct.title), _t(ct.phone),
                          _t(ct.email), _t(ct.wechat))
        parts.append(table)
    if portrait.deals:
        table = Table(title=_("Deals"), title_justify="left", header_style="bold")
        for col in (_("id"), _("title"), _("stage"), _("amount"), _("expected close")):
            table.add_column(col)
        for d in portrait.deals:
            table.add_row(str(d.id), _t(d.title), d.stage, money(d.amount), short_date(d.expected_close))
        parts.append(table)
    if portrait.follow_ups:
        table = Table(title=_("Follow-ups"), title_justify="left", header_style="bold")
        for col in (_("when"), _("rep"), _("channel"), _("summary"), _("next")):
            table.add_column(col)
        for f in portrait.follow_ups:
            table.add_row(short_datetime(f.at), _t(f.rep), f.channel, _t(f.summary), short_date(f.next_at))
        parts.append(table)
    if portrait.ownership:
        table = Table(title=_("Ownership history"), title_justify="left", header_style="bold")
        for col in (_("when"), _("what"), _("by"), _("from"), _("to"), _("reason")):
            table.add_column(col)
        for o in portrait.ownership:
            table.add_row(short_datetime(o.at), o.kind, _t(o.actor), _t(o.from_rep or "-"),
                          _t(o.to_rep or _("open sea")), _t(o.reason))
        parts.append(table)
    if portrait.audit:
        table = Table(title=_("Change history"), title_justify="left", header_style="bold")
        for col in (_("when"), _("by"), _("what"), _("field"), _("old"), _("new")):
            table.add_column(col)
        for a in portrait.audit:
            table.add_row(short_datetime(a.at), _t(a.actor), a.action, _t(a.field), _t(a.old), _t(a.new))
        parts.append(table)
    return Group(*parts)
