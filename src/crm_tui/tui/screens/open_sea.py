"""Screen 3: the open sea — every customer nobody owns, why it is there, and ``c`` to claim it.

Each row says why and when the customer came back (released with a reason, or recycled by a
rule), by whom, how many days it has waited, the latest follow-up summary, and its industry,
region, source and tier. Phones and e-mails arrive masked from the store while
``mask_pool_contacts`` is on. Search, sort and filters work as on the customer list (the same
virtual table and ``ListQuery``, scope ``pool``).

Claims go to the store in a thread worker; a refusal is the store's own sentence (taken by
whom, the cap with my count, the cooldown with the day it ends). When another client claims a
customer, the app's change watcher reloads this table, so the row leaves within the watcher's
poll (SQLite) or at once (PostgreSQL NOTIFY). My count against the cap is always on screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Header, Static

from crm_tui.i18n import _
from crm_tui.present.format import short_date
from crm_tui.present.textsafe import printable
from crm_tui.tui.screens.base import CrmScreen
from crm_tui.tui.widgets.customer_table import Column, CustomerTable, cell_text
from crm_tui.tui.widgets.footer import KeyFooter
from crm_tui.tui.widgets.search_bar import SearchBar

if TYPE_CHECKING:
    from crm_tui.store import Actor, CustomerRecord, Store
    from crm_tui.store.records import ListQuery
    from crm_tui.store.reports import ClaimStatus

SEA_SORTS = ["pool_entered_at", "name", "tier", "phone"]
"""Columns the open sea can be sorted by (``pool_entered_at``: when it entered the sea)."""
FILTER_FIELDS = ("status", "tier", "tag", "source", "region")


class PoolRow:
    """An open-sea customer (every attribute of its ``CustomerRecord``) with what the browser
    shows beside it. A wrapper rather than a subclass, so this module does not import the
    store before the first frame."""

    def __init__(self, record: CustomerRecord, days_in_pool: int | None,
                 last_summary: str | None) -> None:
        self.record = record
        self.days_in_pool = days_in_pool
        self.last_summary = last_summary

    def __getattr__(self, name: str) -> Any:
        return getattr(self.record, name)


def sea_columns() -> list[Column]:
    return [
        Column("name", _("Name"), 12, flex=3),
        Column("industry", _("Industry"), 8),
        Column("region", _("Region"), 8),
        Column("source", _("Source"), 8),
        Column("tier", _("Tier"), 4),
        Column("release_reason", _("Why in the sea"), 12, flex=3),
        Column("released_by", _("By"), 8),
        Column("pool_entered_at", _("Entered"), 11),
        Column("last_summary", _("Last follow-up"), 12, flex=3),
        Column("phone", _("Phone"), 14),
    ]


def released_by(record: CustomerRecord) -> str:
    """Who sent it to the open sea: the rep, ``rule`` for recycling, empty when created there."""
    if record.released_by:
        return record.released_by
    if (record.release_reason or "").startswith("recycled"):
        return _("rule")
    return ""


def sea_cell(record: CustomerRecord, key: str) -> str:
    """The text of one open-sea cell (the columns the customer list does not have)."""
    if key == "pool_entered_at":
        entered = record.pool_entered_at
        if entered is None:
            return ""
        days = getattr(record, "days_in_pool", None)
        when = entered.astimezone().strftime("%m-%d")
        return when if days is None else _("{when} {n}d").format(when=when, n=days)
    if key == "released_by":
        return printable(released_by(record))
    if key == "last_summary":
        return printable((getattr(record, "last_summary", None) or "").replace("\n", " "))
    return cell_text(record, key)


@dataclass(frozen=True)
class PoolRows:
    """The open sea for one query, with days in the pool and last summaries (worker threads)."""

    store: Store
    actor: Actor
    query: ListQuery

    def count(self) -> int:
        return self.store.count_customers(self.actor, self.query)

    def page(self, offset: int, limit: int) -> Sequence[CustomerRecord]:
        records = self.store.customer_page(self.actor, self.query, offset, limit)
        notes = self.store.pool_notes(self.actor, [record.id for record in records])
        rows: list[Any] = []
        for record in records:
            note = notes.get(record.id)
            rows.append(PoolRow(record, note.days_in_pool if note else None,
                                note.last_summary if note else None))
        return rows


class OpenSeaScreen(CrmScreen):
    """The open sea."""

    DEFAULT_CSS = """
    OpenSeaScreen #sea-status, OpenSeaScreen #sea-claims {
        height: 1;
        padding: 0 2;
        color: $text-muted;
    }
    OpenSeaScreen #sea-claims { color: $text; }
    OpenSeaScreen #sea-table { height: 1fr; }
    OpenSeaScreen #sea-detail {
        height: 4;
        padding: 0 2;
        border-top: solid $panel;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "claim", _("Claim"), id="sea.claim",
                tooltip=_("Take the customer under the cursor into my private sea")),
        Binding("slash", "search", _("Search"), id="sea.search",
                tooltip=_("Search the open sea by name, company, phone, email or pinyin")),
        Binding("s", "cycle_sort", _("Sort"), id="sea.sort",
                tooltip=_("Sort by days in the sea, name, tier or phone")),
        Binding("S", "reverse_sort", _("Reverse"), id="sea.reverse", show=False,
                tooltip=_("Reverse the sort direction")),
        Binding("F", "filters", _("Filter"), id="sea.filter",
                tooltip=_("Filter by status, tier, tag, source or region")),
    ]

    class ClaimStatusLoaded(Message):
        def __init__(self, status: ClaimStatus) -> None:
            super().__init__()
            self.status = status

    class Claimed(Message):
        def __init__(self, record: CustomerRecord) -> None:
            super().__init__()
            self.record = record

    class ClaimRefused(Message):
        def __init__(self, customer_id: int, message: str, rule: str | None) -> None:
            super().__init__()
            self.customer_id = customer_id
            self.message = message
            self.rule = rule

    def __init__(self) -> None:
        super().__init__()
        self.listing: ListQuery | None = None
        self.total: int | None = None
        self.claim_status: ClaimStatus | None = None
        self.last_message: str | None = None
        """The last claim outcome shown (a refusal is the store's sentence)."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield SearchBar(id="sea-search")
        yield Static(id="sea-status", markup=False)
        yield Static(id="sea-claims", markup=False)
        yield CustomerTable(id="sea-table", columns=sea_columns(), cell=sea_cell,
                            today=self.app.today)  # type: ignore[attr-defined]
        yield Static(id="sea-detail", markup=False)
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        self.table.focus()
        app = self.app
        app.customers_changed.subscribe(self, self._customers_changed)  # type: ignore[attr-defined]
        if app.store is not None:  # type: ignore[attr-defined]
            self._store_ready(None)
        else:
            app.store_ready.subscribe(self, self._store_ready)  # type: ignore[attr-defined]
        self._show_status()

    @property
    def table(self) -> CustomerTable:
        return self.query_one("#sea-table", CustomerTable)

    # --- the listing --------------------------------------------------------------------------

    def _store_ready(self, _data: Any) -> None:
        if self.listing is not None:
            return
        from crm_tui.store.records import ListQuery

        self.listing = ListQuery(scope="pool", sort="pool_entered_at", descending=True,
                                 text=self.query_one(SearchBar).value)
        self._apply()
        self.load_claim_status()

    def _customers_changed(self, _ids: Any) -> None:
        self.table.reload()
        self.load_claim_status()

    def change_listing(self, **changes: Any) -> None:
        if self.listing is None:
            return
        self.listing = self.listing.with_(**changes)
        self._apply()

    def _apply(self) -> None:
        assert self.listing is not None
        app: Any = self.app
        self.total = None
        self.table.set_source(PoolRows(app.store, app.me, self.listing),
                              sort_key=self.listing.sort, descending=self.listing.descending)
        self._show_status()

    def _show_status(self) -> None:
        status = self.query_one("#sea-status", Static)
        query = self.listing
        if query is None:
            status.update(Text(_("Opening the database…")))
            return
        parts = [_("Open sea")]
        parts.append(_("counting…") if self.total is None
                     else _("{n:,} customers").format(n=self.total))
        column = next((c for c in self.table.columns if c.key == query.sort), None)
        if column is not None:
            arrow = "▼" if query.descending else "▲"
            parts.append(_("sorted by {column} {arrow}").format(column=column.title, arrow=arrow))
        filters = [f"{name}={printable(getattr(query, name))}" for name in FILTER_FIELDS
                   if getattr(query, name)]
        if filters:
            parts.append(_("filters: {filters}").format(filters=", ".join(filters)))
        status.update(Text(" · ".join(parts)))

    def _show_claims(self) -> None:
        """Mine against the cap, and today's claims against the daily limit: always visible."""
        status = self.claim_status
        line = self.query_one("#sea-claims", Static)
        if status is None:
            line.update("")
            return
        mine = (_("My private sea: {owned} of {cap}").format(owned=status.owned, cap=status.private_cap)
                if status.private_cap else _("My private sea: {owned} (no cap)").format(owned=status.owned))
        today = (_("claims today: {n} of {limit}").format(n=status.claimed_today,
                                                          limit=status.daily_claim_limit)
                 if status.daily_claim_limit else
                 _("claims today: {n} (no limit)").format(n=status.claimed_today))
        text = Text(f"{mine} · {today}")
        full = status.private_cap and status.owned >= status.private_cap
        used_up = status.daily_claim_limit and status.claimed_today >= status.daily_claim_limit
        if full or used_up:
            text.stylize("bold red")
        line.update(text)

    def _show_detail(self, record: CustomerRecord | None) -> None:
        detail = self.query_one("#sea-detail", Static)
        if record is None:
            detail.update("")
            return
        text = Text()
        text.append(printable(record.name), style="bold")
        if record.company:
            text.append("  " + printable(record.company))
        if record.phone or record.email:
            text.append("  " + " ".join(printable(v) for v in (record.phone, record.email) if v))
            if record.masked:
                text.append("  " + _("(contacts masked until claimed)"), style="dim")
        text.append("\n")
        days = getattr(record, "days_in_pool", None)
        since = short_date(record.pool_entered_at) if record.pool_entered_at else ""
        by = released_by(record)
        if record.release_reason:
            text.append(_("In the sea since {since} ({days} days): {why}").format(
                since=since, days=days if days is not None else "?",
                why=printable(record.release_reason)))
            if by:
                text.append(" — " + _("by {who}").format(who=printable(by)))
        elif since:
            text.append(_("In the sea since {since} ({days} days), never owned.").format(
                since=since, days=days if days is not None else "?"))
        summary = getattr(record, "last_summary", None)
        text.append("\n")
        if summary:
            when = short_date(record.last_follow_up_at)
            text.append(_("Last follow-up {when}: ").format(when=when), style="dim")
            text.append(printable(summary.replace("\n", " ")))
        else:
            text.append(_("No follow-up yet."), style="dim")
        detail.update(text)

    # --- events from the children -------------------------------------------------------------

    @on(SearchBar.Settled)
    def _search(self, event: SearchBar.Settled) -> None:
        if self.listing is not None and event.text != self.listing.text:
            self.change_listing(text=event.text)

    @on(SearchBar.Left)
    def _leave_search(self) -> None:
        self.table.focus()

    @on(CustomerTable.Counted)
    def _counted(self, event: CustomerTable.Counted) -> None:
        self.total = event.total
        self._show_status()
        self._show_detail(self.table.cursor_customer)

    @on(CustomerTable.CursorMoved)
    def _cursor_moved(self, event: CustomerTable.CursorMoved) -> None:
        self._show_detail(self.table.row_at(event.row))

    @on(CustomerTable.Opened)
    def _open(self, event: CustomerTable.Opened) -> None:
        self.app.open_customer(event.customer_id)  # type: ignore[attr-defined]

    @on(CustomerTable.HeaderClicked)
    def _header_clicked(self, event: CustomerTable.HeaderClicked) -> None:
        if self.listing is None or event.column_key not in SEA_SORTS:
            return
        if event.column_key == self.listing.sort:
            self.change_listing(descending=not self.listing.descending)
        else:
            self.change_listing(sort=event.column_key, descending=False)

    # --- claim --------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="claim-status",
          name="load my claim counts")
    def load_claim_status(self) -> None:
        app: Any = self.app
        if app.store is not None and app.me is not None:
            self.post_message(self.ClaimStatusLoaded(app.store.claim_status(app.me)))

    @on(ClaimStatusLoaded)
    def _claim_status_loaded(self, event: ClaimStatusLoaded) -> None:
        self.claim_status = event.status
        self._show_claims()

    def action_claim(self) -> None:
        record = self.table.cursor_customer
        if record is None:
            return
        self.claim(record.id)

    @work(thread=True, exit_on_error=False, group="claim", name="claim")
    def claim(self, customer_id: int) -> None:
        app: Any = self.app
        try:
            record = app.store.claim(customer_id, app.me)
        except Exception as exc:
            if not hasattr(exc, "exit_code"):
                raise
            self.post_message(self.ClaimRefused(customer_id, str(exc), getattr(exc, "rule", None)))
            return
        self.post_message(self.Claimed(record))

    @on(Claimed)
    def _claimed(self, event: Claimed) -> None:
        self.last_message = _("{name} is in your private sea now.").format(name=event.record.name)
        self.notify(self.last_message, title=_("Claimed"), markup=False)
        self.app.customers_changed.publish(frozenset({event.record.id}))  # type: ignore[attr-defined]

    @on(ClaimRefused)
    def _refused(self, event: ClaimRefused) -> None:
        self.last_message = event.message
        self.notify(event.message, title=_("Not claimed"), severity="error", markup=False,
                    timeout=8)
        if event.rule == "taken":
            self.table.reload()
        self.load_claim_status()

    # --- search, sort, filters ----------------------------------------------------------------

    def action_search(self) -> None:
        self.query_one(SearchBar).focus()

    def action_cycle_sort(self) -> None:
        if self.listing is None:
            return
        current = SEA_SORTS.index(self.listing.sort) if self.listing.sort in SEA_SORTS else -1
        key = SEA_SORTS[(current + 1) % len(SEA_SORTS)]
        self.change_listing(sort=key, descending=key == "pool_entered_at")

    def action_reverse_sort(self) -> None:
        if self.listing is not None:
            self.change_listing(descending=not self.listing.descending)

    def action_filters(self) -> None:
        if self.listing is None:
            return
        from crm_tui.tui.dialogs.filters import FilterScreen

        current = {name: getattr(self.listing, name) for name in FILTER_FIELDS}
        current["due"] = False
        self.app.push_screen(FilterScreen(current), self._filters_chosen)

    def _filters_chosen(self, chosen: dict[str, Any] | None) -> None:
        if chosen is not None:
            chosen.pop("due", None)
            self.change_listing(**chosen)
