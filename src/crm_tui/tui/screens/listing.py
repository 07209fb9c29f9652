"""What the customer list and the open-sea browser share: a searched, sorted and filtered
``CustomerTable`` over one ``ListQuery``, with the line above it saying what it shows.

The screen owns the query (scope, search text, sort, filters); the virtual table only draws what
its row source gives it. ``ListQuery`` is imported when the store is ready, not at start, so the
first frame does not wait for the store's modules. A subclass brings its columns, its row source,
its bindings (each with its own id, so the keymap can remap them) and its own actions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import Header, Static

from crm_tui.present.listing import OPENING, listing_status
from crm_tui.tui.screens.base import CrmScreen
from crm_tui.tui.widgets.customer_table import CustomerTable
from crm_tui.tui.widgets.footer import KeyFooter
from crm_tui.tui.widgets.search_bar import SearchBar

if TYPE_CHECKING:
    from crm_tui.store.api import StoreApi
    from crm_tui.store.records import Actor, CustomerRecord, ListQuery
    from crm_tui.tui.widgets.customer_table import RowSource

@dataclass(frozen=True)
class StoreRows:
    """The table's rows for one query, straight from the store (called in worker threads)."""

    store: StoreApi
    actor: Actor
    query: ListQuery

    def count(self) -> int:
        return self.store.count_customers(self.actor, self.query)

    def page(self, offset: int, limit: int) -> Sequence[CustomerRecord]:
        return self.store.customer_page(self.actor, self.query, offset, limit)


FILTER_FIELDS = ("status", "tier", "tag", "source", "region")
"""The ``ListQuery`` filters the filter dialog sets (besides ``due``)."""


class ListingScreen(CrmScreen):
    """A screen whose body is one customer listing: search box, status line, table, keys."""

    SORT_KEYS: ClassVar[tuple[str, ...]] = ()
    """The columns ``s`` cycles through, in order; a click on another title sorts nothing."""
    DESCENDING_FIRST: ClassVar[frozenset[str]] = frozenset()
    """Columns ``s`` sorts newest or largest first."""
    FILTERS: ClassVar[tuple[str, ...]] = (*FILTER_FIELDS, "due")
    """The filters this listing offers (the rest stay unset)."""
    SEARCH_ID: ClassVar[str] = "search"
    STATUS_ID: ClassVar[str] = "list-status"

    def __init__(self) -> None:
        super().__init__()
        self.listing: ListQuery | None = None
        """What the table shows; None until the store is open."""
        self.total: int | None = None
        """How many rows the listing has; None while they are counted."""

    # --- what a listing brings --------------------------------------------------------------

    def make_table(self) -> CustomerTable:
        """The table, with this listing's columns."""
        raise NotImplementedError

    def first_listing(self, text: str) -> ListQuery:
        """The query shown once the store is open (``text``: anything typed before that)."""
        raise NotImplementedError

    def row_source(self, store: StoreApi, actor: Actor, query: ListQuery) -> RowSource:
        """Where the table's rows for ``query`` come from (read in worker threads)."""
        raise NotImplementedError

    def scope_title(self, query: ListQuery) -> str:
        """The first words of the status line: what this listing is."""
        raise NotImplementedError

    def compose_above_table(self) -> ComposeResult:
        yield from ()

    def compose_below_table(self) -> ComposeResult:
        yield from ()

    def store_opened(self) -> None:
        """Called once the listing has its first query (the store is open)."""

    def customers_changed(self) -> None:
        """Customers changed (here or in another client): show the listing again."""
        self.table.reload()

    def rows_counted(self) -> None:
        """The table has counted its rows (the status line says how many)."""

    # --- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield SearchBar(id=self.SEARCH_ID)
        yield Static(id=self.STATUS_ID, markup=False)
        yield from self.compose_above_table()
        yield self.make_table()
        yield from self.compose_below_table()
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        self.table.focus()
        app = self.crm_app
        app.customers_changed.subscribe(self, self._customers_changed)
        if app.store is not None:
            self._store_ready(None)
        else:
            app.store_ready.subscribe(self, self._store_ready)
        self._show_status()

    @property
    def table(self) -> CustomerTable:
        return self.query_one(CustomerTable)

    # --- the query ----------------------------------------------------------------------------

    def _store_ready(self, _data: object) -> None:
        if self.listing is not None:
            return
        self.listing = self.first_listing(self.query_one(SearchBar).value)
        self._apply()
        self.store_opened()

    def _customers_changed(self, _ids: object) -> None:
        self.customers_changed()

    def change_listing(self, **changes: Any) -> None:
        """Change the listing (search, sort, filters, scope) and show it from the top."""
        if self.listing is None:
            return
        self.listing = self.listing.with_(**changes)
        self._apply()

    def _apply(self) -> None:
        assert self.listing is not None
        self.total = None
        self.table.set_source(self.row_source(self.store, self.me, self.listing),
                              sort_key=self.listing.sort, descending=self.listing.descending)
        self._show_status()

    def _show_status(self) -> None:
        status = self.query_one(f"#{self.STATUS_ID}", Static)
        query = self.listing
        if query is None:
            status.update(Text(OPENING))
            return
        column = next((c for c in self.table.columns if c.key == query.sort), None)
        filters = {name: getattr(query, name) for name in self.FILTERS}
        status.update(Text(listing_status(self.scope_title(query), self.total,
                                          column.title if column else None, query.descending,
                                          filters)))

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
        self.rows_counted()

    @on(CustomerTable.Opened)
    def _open(self, event: CustomerTable.Opened) -> None:
        self.crm_app.open_customer(event.customer_id)

    @on(CustomerTable.HeaderClicked)
    def _header_clicked(self, event: CustomerTable.HeaderClicked) -> None:
        if self.listing is None or event.column_key not in self.SORT_KEYS:
            return
        if event.column_key == self.listing.sort:
            self.change_listing(descending=not self.listing.descending)
        else:
            self.change_listing(sort=event.column_key, descending=False)

    # --- search, sort, filters ----------------------------------------------------------------

    def action_search(self) -> None:
        # Focus now, not after a refresh (as ``focus()`` does): keys typed right after `/`
        # are already queued and must reach the search box, not the listing's bindings.
        self.set_focus(self.query_one(SearchBar))

    def action_cycle_sort(self) -> None:
        if self.listing is None:
            return
        keys = self.SORT_KEYS
        current = keys.index(self.listing.sort) if self.listing.sort in keys else -1
        key = keys[(current + 1) % len(keys)]
        self.change_listing(sort=key, descending=key in self.DESCENDING_FIRST)

    def action_reverse_sort(self) -> None:
        if self.listing is not None:
            self.change_listing(descending=not self.listing.descending)

    def action_filters(self) -> None:
        if self.listing is None:
            return
        from crm_tui.tui.dialogs.filters import FilterScreen

        current = {name: getattr(self.listing, name) for name in self.FILTERS}
        self.app.push_screen(FilterScreen(current), self._filters_chosen)

    def _filters_chosen(self, chosen: dict[str, Any] | None) -> None:
        if chosen is not None:
            self.change_listing(**{name: value for name, value in chosen.items()
                                   if name in self.FILTERS})
