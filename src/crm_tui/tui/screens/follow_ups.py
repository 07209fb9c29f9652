"""Screen 2: *Due today* first — my follow-ups due and overdue, my customers close to recycling —
then the log of every follow-up I may see, newest first, filtered by rep, channel and dates.

`Enter` opens the portrait of the customer under the cursor (in either table); `f` logs a
follow-up for it straight from here. Both lists come from the store in thread workers
(``store.due`` and ``store.follow_up_log``), and reload when the screen comes back into view or
another client changes customers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Header, Input, Select, Static

from crm_tui.i18n import _
from crm_tui.present.format import count, due_phrase, short_date, short_datetime
from crm_tui.present.textsafe import printable
from crm_tui.tui.screens.base import CrmScreen
from crm_tui.tui.widgets.customer_table import fit
from crm_tui.tui.widgets.footer import KeyFooter

if TYPE_CHECKING:
    from crm_tui.store.records import DueItem, FollowUpRecord

LOG_PAGE = 40
"""Log rows fetched at a time (a screenful and more); `m` fetches the next page."""

CHANNEL_CHOICES = ("call", "visit", "wechat", "email", "meeting", "other")
"""The filter's choices; the store validates them (``validate.channel``)."""

REASON_COLOURS = {"overdue": "error", "due": "warning", "recycle": "primary"}
"""The theme colour (drawn bold) of each reason a customer is on *Due today*."""
SUMMARY_ROOM = 60
"""At most this many cells of a summary in the log; fewer when the terminal is narrower."""


class FollowUpsScreen(CrmScreen):
    """Due today, then the follow-up log."""


    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "follow_up", _("Follow-up"), id="follow_ups.follow_up",
                tooltip=_("Log a follow-up for the customer under the cursor")),
        Binding("slash", "filter", _("Filter"), id="follow_ups.filter",
                tooltip=_("Filter the log by rep, channel and dates")),
        Binding("m", "more", _("More"), id="follow_ups.more",
                tooltip=_("Load older follow-ups into the log")),
        Binding("escape", "leave_filters", _("Back to the log"), show=False,
                id="follow_ups.leave_filters", tooltip=_("Leave the filters for the log")),
    ]

    class DueLoaded(Message):
        def __init__(self, items: list[DueItem]) -> None:
            super().__init__()
            self.items = items

    class LogLoaded(Message):
        def __init__(self, rows: list[FollowUpRecord], generation: int) -> None:
            super().__init__()
            self.rows = rows
            self.generation = generation

    class FilterRefused(Message):
        def __init__(self, error: Exception) -> None:
            super().__init__()
            self.error = error

    def __init__(self) -> None:
        super().__init__()
        self.due_items: list[DueItem] = []
        self.log_rows: list[FollowUpRecord] = []
        self.log_limit = LOG_PAGE
        self._generation = 0
        self._filter_timer: Timer | None = None
        self.loads = 0
        """How many times both lists arrived (tests wait on it)."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(_("Due today"), classes="section-title", id="due-title")
        due: DataTable[Any] = DataTable(id="due", cursor_type="row", zebra_stripes=True)
        due.add_columns(_("when"), _("customer"), _("company"), _("last follow-up"))
        yield due
        yield Static(_("Follow-up log"), classes="section-title", id="log-title")
        # Filled on the first `/`: four inputs and a Select are a tenth of the start-up budget
        # of the screen crm opens on, for filters most mornings never use.
        yield Horizontal(id="log-filters")
        with Vertical(id="log-box"):
            log: DataTable[Any] = DataTable(id="log", cursor_type="row", zebra_stripes=True)
            # The summary last: at 80 columns it is the one cut, not the next date.
            log.add_columns(_("when"), _("customer"), _("rep"), _("channel"), _("next"), _("summary"))
            yield log
        yield Static("", id="log-status", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        app = self.crm_app
        app.customers_changed.subscribe(self, lambda _ids: self.reload())
        if app.store is not None:
            self.reload()
        else:
            app.store_ready.subscribe(self, lambda _data: self.reload())
        self.query_one("#due", DataTable).focus()

    def on_screen_resume(self) -> None:
        if self.crm_app.store is not None and self.loads:
            self.reload()

    # --- loading ------------------------------------------------------------------------------

    def reload(self) -> None:
        self.load_due()
        self.load_log()

    @work(thread=True, exclusive=True, exit_on_error=False, group="due-load")
    def load_due(self) -> None:
        self.post_message(self.DueLoaded(self.store.due(self.me)))

    def _filters(self) -> dict[str, Any]:
        if not self.query("#filter-rep"):
            return {"rep": None, "channel": None, "since": "", "until": ""}
        channel = self.query_one("#filter-channel", Select).value
        return {
            "rep": self.query_one("#filter-rep", Input).value.strip() or None,
            "channel": None if channel is Select.NULL else channel,
            "since": self.query_one("#filter-since", Input).value.strip(),
            "until": self.query_one("#filter-until", Input).value.strip(),
        }

    def load_log(self) -> None:
        self._generation += 1
        self._load_log(self._filters(), self.log_limit, self._generation)

    @work(thread=True, exclusive=True, exit_on_error=False, group="log-load")
    def _load_log(self, filters: dict[str, Any], limit: int, generation: int) -> None:
        from crm_tui.store import validate
        from crm_tui.store.errors import CrmError

        today = self.crm_app.today()
        try:
            since = validate.parse_date("from", filters["since"], today=today)
            until = validate.parse_date("until", filters["until"], today=today)
            rows = self.store.follow_up_log(self.me, rep=filters["rep"],
                                            channel=filters["channel"], since=since, until=until,
                                            limit=limit)
        except CrmError as exc:
            self.post_message(self.FilterRefused(exc))
            return
        self.post_message(self.LogLoaded(rows, generation))

    @on(DueLoaded)
    def _due_loaded(self, event: DueLoaded) -> None:
        self.due_items = event.items
        table = self.query_one("#due", DataTable)
        row = table.cursor_row
        table.clear()
        for index, item in enumerate(event.items):
            table.add_row(
                Text(due_phrase(item), style=self._reason_style(item.reason)),
                Text(printable(item.name)),
                Text(printable(item.company)),
                short_datetime(item.last_follow_up_at) or _("never"),
                key=str(index),
            )
        if event.items:
            table.move_cursor(row=min(row, len(event.items) - 1))
        overdue = sum(1 for i in event.items if i.reason == "overdue")
        recycle = sum(1 for i in event.items if i.reason == "recycle")
        title = _("Due today: {follow_ups} ({overdue} overdue), {recycle} close to recycling").format(
            follow_ups=count(len(event.items) - recycle, "{n} follow-up", "{n} follow-ups"),
            overdue=overdue, recycle=recycle)
        if not event.items:
            title = _("Due today: nothing due — well done")
        self.query_one("#due-title", Static).update(title)
        if not self.loads:
            self.call_after_refresh(self.crm_app.first_rows_shown)
        self.loads += 1

    @on(LogLoaded)
    def _log_loaded(self, event: LogLoaded) -> None:
        if event.generation != self._generation:
            return  # typed on: a newer query is coming
        self.log_rows = event.rows
        table = self.query_one("#log", DataTable)
        row = table.cursor_row
        table.clear()
        room = self._summary_room(event.rows)
        for index, f in enumerate(event.rows):
            # A line break shown as " / ": ⏎ is drawn two cells wide by some terminals.
            summary = printable(f.summary).replace("\n", " / ")
            table.add_row(
                short_datetime(f.at), Text(printable(f.customer_name)), Text(printable(f.rep)),
                _(f.channel), short_date(f.next_at), Text(fit(summary, room).rstrip()),
                key=str(index),
            )
        if event.rows:
            table.move_cursor(row=min(row, len(event.rows) - 1))
        status = self.query_one("#log-status", Static)
        status.remove_class("-error")
        more = _(" · m: older") if len(event.rows) >= self.log_limit else ""
        status.update(count(len(event.rows), "{n} follow-up, newest first",
                            "{n} follow-ups, newest first") + more)

    def _summary_room(self, rows: list[FollowUpRecord]) -> int:
        """Cells left for the summary once the other columns of the log are laid out."""
        others = [
            max((cell_len(short_datetime(f.at)) for f in rows), default=4),
            max((cell_len(printable(f.customer_name)) for f in rows), default=8),
            max((cell_len(printable(f.rep)) for f in rows), default=3),
            max((cell_len(_(f.channel)) for f in rows), default=7),
            10,
        ]
        width = self.size.width or self.app.size.width
        # Each column has a cell of padding either side; the table keeps 2 for its scrollbar.
        room = width - 2 - sum(w + 2 for w in others) - 2
        return max(12, min(SUMMARY_ROOM, room))

    def _reason_style(self, reason: str) -> str:
        colour = getattr(self.app.current_theme, REASON_COLOURS.get(reason, ""), None)
        return f"bold {colour}" if colour else ""

    @on(FilterRefused)
    def _filter_refused(self, event: FilterRefused) -> None:
        status = self.query_one("#log-status", Static)
        status.add_class("-error")
        status.update(str(event.error))

    # --- filters ------------------------------------------------------------------------------

    @on(Input.Changed, "#log-filters Input")
    @on(Select.Changed, "#filter-channel")
    def _filter_changed(self) -> None:
        self.log_limit = LOG_PAGE
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(0.25, self.load_log)

    @on(Input.Submitted, "#log-filters Input")
    def _filter_submitted(self) -> None:
        self.query_one("#log", DataTable).focus()

    async def action_filter(self) -> None:
        if not self.query("#filter-rep"):
            blink = getattr(self.app, "cursor_blink", True)
            inputs = [Input(placeholder=_("rep login"), id="filter-rep"),
                      Input(placeholder=_("from YYYY-MM-DD"), id="filter-since"),
                      Input(placeholder=_("until YYYY-MM-DD"), id="filter-until")]
            for widget in inputs:
                widget.cursor_blink = blink
            channel = Select([(_(c), c) for c in CHANNEL_CHOICES], prompt=_("any channel"),
                             id="filter-channel")
            await self.query_one("#log-filters", Horizontal).mount(
                inputs[0], channel, inputs[1], inputs[2])
        self.query_one("#filter-rep", Input).focus()

    def action_leave_filters(self) -> None:
        self.query_one("#log", DataTable).focus()

    def action_more(self) -> None:
        self.log_limit += LOG_PAGE
        self.load_log()

    # --- the customer under the cursor --------------------------------------------------------

    def _cursor_customer(self) -> tuple[int, str] | None:
        """The customer under the cursor of the focused table (the due list by default)."""
        log = self.query_one("#log", DataTable)
        if log.has_focus and self.log_rows:
            row = self.log_rows[min(log.cursor_row, len(self.log_rows) - 1)]
            return row.customer_id, row.customer_name
        due = self.query_one("#due", DataTable)
        if self.due_items:
            item = self.due_items[min(due.cursor_row, len(self.due_items) - 1)]
            return item.customer_id, item.name
        return None

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        rows: list[Any] = self.due_items if event.data_table.id == "due" else self.log_rows
        index = int(event.row_key.value or 0)
        if index < len(rows):
            self.crm_app.open_customer(rows[index].customer_id)

    def action_follow_up(self) -> None:
        from crm_tui.tui.dialogs.follow_up_form import FollowUpFormScreen

        chosen = self._cursor_customer()
        if chosen is None:
            return
        customer_id, name = chosen
        self.app.push_screen(
            FollowUpFormScreen(customer_id, name, self.crm_app.today()),
            lambda result: self.reload() if result is not None else None,
        )
