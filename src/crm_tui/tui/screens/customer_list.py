"""The customer list: my private sea (or everything I may see), searched, sorted and filtered.

The screen owns the listing query (scope, search text, sort, filters); the virtual table only
draws whatever ``StoreRows`` gives it. ``ListQuery`` is imported when the store is ready, not
at start, so the first frame does not wait for SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Header, Static

from crm_tui.i18n import _
from crm_tui.present.textsafe import printable
from crm_tui.tui.screens.base import CrmScreen
from crm_tui.tui.widgets.customer_table import CustomerTable
from crm_tui.tui.widgets.footer import KeyFooter
from crm_tui.tui.widgets.search_bar import SearchBar

if TYPE_CHECKING:
    from crm_tui.store import Actor, CustomerRecord, Store
    from crm_tui.store.records import ListQuery

SORT_ORDER = [
    "name", "company", "status", "tier", "owner", "last_follow_up_at", "next_follow_up_at", "phone",
]
FILTER_FIELDS = ("status", "tier", "tag", "source", "region")


@dataclass(frozen=True)
class StoreRows:
    """The table's rows for one query, straight from the store (called in worker threads)."""

    store: Store
    actor: Actor
    query: ListQuery

    def count(self) -> int:
        return self.store.count_customers(self.actor, self.query)

    def page(self, offset: int, limit: int) -> Sequence[CustomerRecord]:
        return self.store.customer_page(self.actor, self.query, offset, limit)


class CustomerListScreen(CrmScreen):
    """Screen 1: customers."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", _("Search"), id="list.search",
                tooltip=_("Search by name, company, phone, email or pinyin as you type")),
        Binding("n", "new_customer", _("New"), id="list.new",
                tooltip=_("Add a new customer")),
        Binding("e", "intent('edit')", _("Edit"), id="list.edit",
                tooltip=_("Edit the customer under the cursor")),
        Binding("f", "intent('follow_up')", _("Follow-up"), id="list.follow_up",
                tooltip=_("Log a follow-up for the customer under the cursor")),
        Binding("c", "intent('claim')", _("Claim"), id="list.claim", show=False,
                tooltip=_("Claim the open-sea customer under the cursor")),
        Binding("r", "intent('release')", _("Release"), id="list.release", show=False,
                tooltip=_("Release the customer under the cursor to the open sea")),
        Binding("l", "intent('lock')", _("Lock"), id="list.lock", show=False,
                tooltip=_("Lock (or unlock) the customer under the cursor as a key account")),
        Binding("s", "cycle_sort", _("Sort"), id="list.sort",
                tooltip=_("Sort by the next column")),
        Binding("S", "reverse_sort", _("Reverse"), id="list.reverse", show=False,
                tooltip=_("Reverse the sort direction")),
        Binding("F", "filters", _("Filter"), id="list.filter",
                tooltip=_("Filter by status, tier, tag, source, region or due")),
        Binding("a", "toggle_scope", _("Mine/all"), id="list.scope",
                tooltip=_("Switch between my private sea and every customer I may see")),
        Binding("d", "toggle_due", _("Due only"), show=False, id="list.due",
                tooltip=_("Show only customers whose next follow-up is due or overdue")),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.listing: ListQuery | None = None
        """What the list shows; None until the store is open."""
        self.total: int | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield SearchBar(id="search")
        yield Static(id="list-status", markup=False)
        yield CustomerTable(id="customers", today=self.app.today)
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one(CustomerTable).focus()
        app = self.app
        app.customers_changed.subscribe(self, self._customers_changed)  # type: ignore[attr-defined]
        if app.store is not None:  # type: ignore[attr-defined]
            self._store_ready(None)
        else:
            app.store_ready.subscribe(self, self._store_ready)  # type: ignore[attr-defined]
        self._show_status()

    @property
    def table(self) -> CustomerTable:
        return self.query_one(CustomerTable)

    # --- the query --------------------------------------------------------------------------

    def _store_ready(self, _data: Any) -> None:
        if self.listing is not None:
            return
        from crm_tui.store.records import ListQuery

        self.listing = ListQuery(scope="mine", text=self.query_one(SearchBar).value)
        self._apply()

    def _customers_changed(self, _ids: Any) -> None:
        self.table.reload()

    def change_listing(self, **changes: Any) -> None:
        """Change the listing (search, sort, filters, scope) and show it from the top."""
        if self.listing is None:
            return
        self.listing = self.listing.with_(**changes)
        self._apply()

    def _apply(self) -> None:
        assert self.listing is not None
        app = self.app
        source = StoreRows(app.store, app.me, self.listing)  # type: ignore[attr-defined]
        self.total = None
        self.table.set_source(source, sort_key=self.listing.sort, descending=self.listing.descending)
        self._show_status()

    def _show_status(self) -> None:
        status = self.query_one("#list-status", Static)
        query = self.listing
        if query is None:
            status.update(Text(_("Opening the database…")))
            return
        scope = _("My customers") if query.scope == "mine" else _("All customers I may see")
        parts = [scope]
        if self.total is None:
            parts.append(_("counting…"))
        else:
            parts.append(_("1 customer") if self.total == 1
                         else _("{n:,} customers").format(n=self.total))
        column = next(c for c in self.table.columns if c.key == query.sort)
        arrow = "▼" if query.descending else "▲"
        parts.append(_("sorted by {column} {arrow}").format(column=column.title, arrow=arrow))
        filters = [f"{name}={printable(getattr(query, name))}" for name in FILTER_FIELDS
                   if getattr(query, name)]
        if query.due:
            filters.append(_("due"))
        if filters:
            parts.append(_("filters: {filters}").format(filters=", ".join(filters)))
        status.update(Text(" · ".join(parts)))

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
        self.call_after_refresh(self.app.first_rows_shown)  # type: ignore[attr-defined]

    @on(CustomerTable.Opened)
    def _open(self, event: CustomerTable.Opened) -> None:
        self.app.open_customer(event.customer_id)  # type: ignore[attr-defined]

    @on(CustomerTable.HeaderClicked)
    def _header_clicked(self, event: CustomerTable.HeaderClicked) -> None:
        if self.listing is None:
            return
        if event.column_key == self.listing.sort:
            self.change_listing(descending=not self.listing.descending)
        else:
            self.change_listing(sort=event.column_key, descending=False)

    # --- actions ------------------------------------------------------------------------------

    def action_search(self) -> None:
        # Focus now, not after a refresh (as ``focus()`` does): keys typed right after `/`
        # are already queued and must reach the search box, not the list's bindings.
        self.set_focus(self.query_one(SearchBar))

    def action_cycle_sort(self) -> None:
        if self.listing is None:
            return
        current = SORT_ORDER.index(self.listing.sort) if self.listing.sort in SORT_ORDER else -1
        self.change_listing(sort=SORT_ORDER[(current + 1) % len(SORT_ORDER)], descending=False)

    def action_reverse_sort(self) -> None:
        if self.listing is not None:
            self.change_listing(descending=not self.listing.descending)

    def action_toggle_scope(self) -> None:
        if self.listing is not None:
            self.change_listing(scope="all" if self.listing.scope == "mine" else "mine")

    def action_toggle_due(self) -> None:
        if self.listing is not None:
            self.change_listing(due=not self.listing.due)

    def action_filters(self) -> None:
        if self.listing is None:
            return
        from crm_tui.tui.dialogs.filters import FilterScreen

        current = {name: getattr(self.listing, name) for name in (*FILTER_FIELDS, "due")}
        self.app.push_screen(FilterScreen(current), self._filters_chosen)

    def _filters_chosen(self, chosen: dict[str, Any] | None) -> None:
        if chosen is not None:
            self.change_listing(**chosen)

    def action_new_customer(self) -> None:
        if self.listing is None:
            return
        from crm_tui.tui.dialogs.customer_form import CustomerFormScreen

        self.app.push_screen(CustomerFormScreen(), self._customer_added)

    def _customer_added(self, customer_id: int | None) -> None:
        if customer_id is not None:
            self.table.reload()

    def action_intent(self, intent: str) -> None:
        record = self.table.cursor_customer
        if record is not None:
            self.app.open_customer(record.id, intent=intent)  # type: ignore[attr-defined]
