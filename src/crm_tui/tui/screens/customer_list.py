"""The customer list: my private sea (or everything I may see), searched, sorted and filtered.

The listing itself (search, sort, filters, the status line) is ``ListingScreen``'s; this screen
adds the list's columns and rows, the scope and due toggles, and the keys that act on the
customer under the cursor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.binding import Binding, BindingType

from crm_tui.i18n import _
from crm_tui.tui.screens.listing import ListingScreen, StoreRows
from crm_tui.tui.widgets.customer_table import CustomerTable

if TYPE_CHECKING:
    from crm_tui.store.api import StoreApi
    from crm_tui.store.records import Actor, ListQuery

SORT_ORDER = (
    "name", "company", "status", "tier", "owner", "last_follow_up_at", "next_follow_up_at", "phone",
)


class CustomerListScreen(ListingScreen):
    """Screen 1: customers."""

    SORT_KEYS = SORT_ORDER

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

    def make_table(self) -> CustomerTable:
        return CustomerTable(id="customers", today=self.crm_app.today)

    def first_listing(self, text: str) -> ListQuery:
        from crm_tui.store.records import ListQuery

        return ListQuery(scope="mine", text=text)

    def row_source(self, store: StoreApi, actor: Actor, query: ListQuery) -> StoreRows:
        return StoreRows(store, actor, query)

    def scope_title(self, query: ListQuery) -> str:
        return _("My customers") if query.scope == "mine" else _("All customers I may see")

    def rows_counted(self) -> None:
        self.call_after_refresh(self.crm_app.first_rows_shown)

    # --- actions ------------------------------------------------------------------------------

    def action_toggle_scope(self) -> None:
        if self.listing is not None:
            self.change_listing(scope="all" if self.listing.scope == "mine" else "mine")

    def action_toggle_due(self) -> None:
        if self.listing is not None:
            self.change_listing(due=not self.listing.due)

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
            self.crm_app.open_customer(record.id, intent=intent)
