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
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Static

from crm_tui.i18n import _
from crm_tui.present.open_sea import (
    claims_line,
    claims_used_up,
    entered_cell,
    released_by,
    sea_detail,
)
from crm_tui.present.textsafe import printable
from crm_tui.tui.screens.listing import FILTER_FIELDS, ListingScreen, StoreRows
from crm_tui.tui.widgets.customer_table import Column, CustomerTable, cell_text

if TYPE_CHECKING:
    from crm_tui.store.api import StoreApi
    from crm_tui.store.records import Actor, CustomerRecord, ListQuery
    from crm_tui.store.reports import ClaimStatus

SEA_SORTS = ("pool_entered_at", "name", "tier", "phone")
"""Columns the open sea can be sorted by (``pool_entered_at``: when it entered the sea)."""


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
        Column("industry", _("Industry"), 8, drop=4),
        Column("region", _("Region"), 8, drop=1),
        Column("source", _("Source"), 8, drop=5),
        Column("tier", _("Tier"), 4, drop=3),
        Column("release_reason", _("Why in the sea"), 12, flex=3),
        Column("released_by", _("By"), 8, drop=2),
        Column("pool_entered_at", _("Entered"), 11),
        Column("last_summary", _("Last follow-up"), 12, flex=3, drop=6),
        Column("phone", _("Phone"), 14, whole=True),
    ]


def sea_cell(record: CustomerRecord, key: str) -> str:
    """The text of one open-sea cell (the columns the customer list does not have)."""
    if key == "pool_entered_at":
        return entered_cell(record.pool_entered_at, getattr(record, "days_in_pool", None))
    if key == "released_by":
        return printable(released_by(record))
    if key == "last_summary":
        return printable((getattr(record, "last_summary", None) or "").replace("\n", " "))
    return cell_text(record, key)


class PoolRows(StoreRows):
    """The open sea for one query, with days in the pool and last summaries (worker threads)."""

    def page(self, offset: int, limit: int) -> Sequence[CustomerRecord]:
        records = self.store.customer_page(self.actor, self.query, offset, limit)
        notes = self.store.pool_notes(self.actor, [record.id for record in records])
        rows: list[Any] = []
        for record in records:
            note = notes.get(record.id)
            rows.append(PoolRow(record, note.days_in_pool if note else None,
                                note.last_summary if note else None))
        return rows


class OpenSeaScreen(ListingScreen):
    """The open sea."""

    SORT_KEYS = SEA_SORTS
    DESCENDING_FIRST = frozenset({"pool_entered_at"})
    FILTERS = FILTER_FIELDS
    SEARCH_ID = "sea-search"
    STATUS_ID = "sea-status"

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
        self.claim_status: ClaimStatus | None = None
        self.last_message: str | None = None
        """The last claim outcome shown (a refusal is the store's sentence)."""

    # --- the listing --------------------------------------------------------------------------

    def compose_above_table(self) -> ComposeResult:
        yield Static(id="sea-claims", markup=False)

    def make_table(self) -> CustomerTable:
        return CustomerTable(id="sea-table", columns=sea_columns(), cell=sea_cell,
                             today=self.crm_app.today)

    def compose_below_table(self) -> ComposeResult:
        yield Static(id="sea-detail", markup=False)

    def first_listing(self, text: str) -> ListQuery:
        from crm_tui.store.records import ListQuery

        return ListQuery(scope="pool", sort="pool_entered_at", descending=True, text=text)

    def row_source(self, store: StoreApi, actor: Actor, query: ListQuery) -> PoolRows:
        return PoolRows(store, actor, query)

    def scope_title(self, query: ListQuery) -> str:
        return _("Open sea")

    def store_opened(self) -> None:
        self.load_claim_status()

    def customers_changed(self) -> None:
        super().customers_changed()
        self.load_claim_status()

    def rows_counted(self) -> None:
        self._show_detail(self.table.cursor_customer)

    def _show_claims(self) -> None:
        """Mine against the cap, and today's claims against the daily limit: always visible."""
        status = self.claim_status
        line = self.query_one("#sea-claims", Static)
        if status is None:
            line.update("")
            return
        line.update(claims_line(status))
        line.set_class(claims_used_up(status), "-used-up")

    def _show_detail(self, record: CustomerRecord | None) -> None:
        detail = self.query_one("#sea-detail", Static)
        if record is None:
            detail.update("")
            return
        detail.update(sea_detail(record, getattr(record, "days_in_pool", None),
                                 getattr(record, "last_summary", None)))

    @on(CustomerTable.CursorMoved)
    def _cursor_moved(self, event: CustomerTable.CursorMoved) -> None:
        self._show_detail(self.table.row_at(event.row))

    # --- claim --------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="claim-status",
          name="load my claim counts")
    def load_claim_status(self) -> None:
        app = self.crm_app
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
        from crm_tui.store.errors import CrmError

        try:
            record = self.store.claim(customer_id, self.me)
        except CrmError as exc:
            self.post_message(self.ClaimRefused(customer_id, str(exc), getattr(exc, "rule", None)))
            return
        self.post_message(self.Claimed(record))

    @on(Claimed)
    def _claimed(self, event: Claimed) -> None:
        self.last_message = _("{name} is in your private sea now.").format(name=event.record.name)
        self.notify(self.last_message, title=_("Claimed"), markup=False)
        self.crm_app.customers_changed.publish(frozenset({event.record.id}))

    @on(ClaimRefused)
    def _refused(self, event: ClaimRefused) -> None:
        self.last_message = event.message
        self.notify(event.message, title=_("Not claimed"), severity="error", markup=False,
                    timeout=8)
        if event.rule == "taken":
            self.table.reload()
        self.load_claim_status()
