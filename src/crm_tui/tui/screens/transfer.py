"""Transfer: a manager moves customers from one rep to another (DESIGN §4).

Pick the rep to take customers from, mark customers in their private sea (space, in the virtual
table), pick the receiving rep, transfer. ``Store.transfer`` checks everything (managers within
their team, an active receiver; contacts, open deals and history travel along) in one
transaction; a refusal is shown as the store's sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Button, Header, Label, Select, Static

from crm_tui.i18n import _
from crm_tui.present.textsafe import printable
from crm_tui.tui.screens.base import CrmScreen
from crm_tui.tui.widgets.customer_table import Column, CustomerTable
from crm_tui.tui.widgets.footer import KeyFooter
from crm_tui.tui.widgets.search_bar import SearchBar

if TYPE_CHECKING:
    from crm_tui.store import Actor, CustomerRecord
    from crm_tui.store.api import StoreApi
    from crm_tui.store.records import ListQuery
    from crm_tui.store.reports import RepStats


def transfer_columns() -> list[Column]:
    return [
        Column("name", _("Name"), 14, flex=3),
        Column("company", _("Company"), 12, flex=3),
        Column("status", _("Status"), 7),
        Column("tier", _("Tier"), 4),
        Column("last_follow_up_at", _("Last f/u"), 10),
        Column("next_follow_up_at", _("Next f/u"), 10),
        Column("phone", _("Phone"), 15),
    ]


@dataclass(frozen=True)
class BookRows:
    """One rep's private sea, searched (called in worker threads)."""

    store: StoreApi
    actor: Actor
    login: str
    query: ListQuery

    def count(self) -> int:
        return self.store.book_count(self.actor, self.login, self.query)

    def page(self, offset: int, limit: int) -> Sequence[CustomerRecord]:
        return self.store.book_page(self.actor, self.login, self.query, offset, limit)


def rep_label(rep: RepStats) -> str:
    who = rep.login if rep.name == rep.login else f"{rep.name} ({rep.login})"
    return _("{who} · {n} customers").format(who=printable(who), n=rep.owned)


class TransferScreen(CrmScreen[int | None]):
    """Dismissed with the number of customers moved (None when nothing moved)."""


    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", _("Back"), id="transfer.close",
                tooltip=_("Leave the transfer screen")),
        Binding("slash", "search", _("Search"), id="transfer.search",
                tooltip=_("Search this rep's customers")),
        Binding("x", "clear", _("Unmark all"), id="transfer.clear",
                tooltip=_("Unmark every marked customer")),
        Binding("ctrl+t", "transfer", _("Transfer"), id="transfer.go",
                tooltip=_("Move the marked customers to the receiving rep")),
    ]

    class RepsLoaded(Message):
        def __init__(self, reps: list[RepStats]) -> None:
            super().__init__()
            self.reps = reps

    class Done(Message):
        def __init__(self, result: Any) -> None:
            super().__init__()
            self.result = result

    class Refused(Message):
        def __init__(self, message: str) -> None:
            super().__init__()
            self.message = message

    def __init__(self, from_login: str | None = None) -> None:
        super().__init__()
        self.from_login = from_login
        self.reps: list[RepStats] = []
        self.query_text = ""
        self.moved = 0

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="transfer-reps"):
            yield Label(_("From"))
            yield Select([], prompt=_("rep to take customers from"), id="transfer-from")
            yield Label(_("To"))
            yield Select([], prompt=_("rep to receive them"), id="transfer-to")
        yield SearchBar(id="transfer-search")
        yield Static(id="transfer-status", markup=False)
        yield CustomerTable(id="transfer-table", columns=transfer_columns(), multi_select=True,
                            today=self.crm_app.today)
        with Horizontal(id="transfer-buttons"):
            yield Button(_("Transfer marked"), variant="primary", id="transfer-marked")
            yield Button(_("Transfer all of this rep's customers"), variant="warning",
                         id="transfer-all")
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        self._show_status()
        self.load_reps()

    @property
    def table(self) -> CustomerTable:
        return self.query_one("#transfer-table", CustomerTable)

    # --- reps ---------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="transfer-reps",
          name="load the reps")
    def load_reps(self) -> None:
        self.post_message(self.RepsLoaded(self.store.managed_reps(self.me)))

    @on(RepsLoaded)
    def _reps_loaded(self, event: RepsLoaded) -> None:
        self.reps = event.reps
        options = [(rep_label(rep), rep.login) for rep in event.reps]
        source = self.query_one("#transfer-from", Select)
        target = self.query_one("#transfer-to", Select)
        current_from, current_to = source.value, target.value
        source.set_options(options)
        target.set_options(options)
        logins = {rep.login for rep in event.reps}
        chosen = current_from if current_from in logins else self.from_login
        if chosen in logins:
            source.value = chosen
        if current_to in logins:
            target.value = current_to

    @on(Select.Changed, "#transfer-from")
    def _source_changed(self, event: Select.Changed) -> None:
        self.table.clear_selection()
        self._show_book()

    @on(Select.Changed, "#transfer-to")
    def _target_changed(self) -> None:
        self._show_status()

    @property
    def source_login(self) -> str | None:
        value = self.query_one("#transfer-from", Select).value
        return value if isinstance(value, str) else None

    @property
    def target_login(self) -> str | None:
        value = self.query_one("#transfer-to", Select).value
        return value if isinstance(value, str) else None

    def _show_book(self) -> None:
        login = self.source_login
        if login is None:
            return
        from crm_tui.store.records import ListQuery

        query = ListQuery(scope="all", text=self.query_text)
        self.table.set_source(BookRows(self.store, self.me, login, query), sort_key="name",
                              descending=False)
        self._show_status()

    @on(SearchBar.Settled)
    def _search(self, event: SearchBar.Settled) -> None:
        if event.text != self.query_text:
            self.query_text = event.text
            self._show_book()

    @on(SearchBar.Left)
    def _leave_search(self) -> None:
        self.table.focus()

    @on(CustomerTable.Counted)
    @on(CustomerTable.SelectionChanged)
    def _table_changed(self) -> None:
        self._show_status()

    def _show_status(self) -> None:
        status = self.query_one("#transfer-status", Static)
        source, target = self.source_login, self.target_login
        if source is None:
            status.update(Text(_("Choose the rep to take customers from, then mark customers "
                                 "with space.")))
            return
        total = self.table.total
        parts = [_("{login}: {n} customers").format(
            login=printable(source), n="…" if total is None else f"{total:,}")]
        parts.append(_("{n} marked").format(n=len(self.table.selected)))
        parts.append(_("to {login}").format(login=printable(target)) if target
                     else _("choose the receiving rep"))
        status.update(Text(" · ".join(parts)))

    # --- transfer -----------------------------------------------------------------------------

    def action_search(self) -> None:
        self.query_one("#transfer-search", SearchBar).focus()

    def action_clear(self) -> None:
        self.table.clear_selection()

    def action_transfer(self) -> None:
        self._start(all_customers=False)

    @on(Button.Pressed, "#transfer-marked")
    def _marked_pressed(self) -> None:
        self._start(all_customers=False)

    @on(Button.Pressed, "#transfer-all")
    def _all_pressed(self) -> None:
        self._start(all_customers=True)

    def _start(self, *, all_customers: bool) -> None:
        source, target = self.source_login, self.target_login
        if source is None or target is None:
            self.notify(_("Choose both reps first."), severity="warning", markup=False)
            return
        ids = sorted(self.table.selected)
        if not all_customers and not ids:
            self.notify(_("Mark customers with space first (or transfer all)."),
                        severity="warning", markup=False)
            return
        self.transfer(source, target, [] if all_customers else ids, all_customers)

    @work(thread=True, exclusive=True, exit_on_error=False, group="transfer", name="transfer")
    def transfer(self, source: str, target: str, ids: list[int], all_customers: bool) -> None:
        try:
            result = self.store.transfer(self.me, source, target, ids or None,
                                         all_customers=all_customers)
        except Exception as exc:
            if not hasattr(exc, "exit_code"):
                raise
            self.post_message(self.Refused(str(exc)))
            return
        self.post_message(self.Done(result))

    @on(Done)
    def _done(self, event: Done) -> None:
        result = event.result
        self.moved += result.moved
        message = _("{n} customers moved from {source} to {target}.").format(
            n=result.moved, source=result.from_rep, target=result.to_rep)
        if result.over_cap:
            message += " " + _("{target} is now over the private-sea cap.").format(
                target=result.to_rep)
        self.notify(message, markup=False, severity="warning" if result.over_cap else "information")
        self.table.selected.clear()
        self.table.reload()
        self.load_reps()
        self._show_status()

    @on(Refused)
    def _refused(self, event: Refused) -> None:
        self.notify(event.message, title=_("Refused"), severity="error", markup=False)

    def action_close(self) -> None:
        self.dismiss(self.moved or None)
