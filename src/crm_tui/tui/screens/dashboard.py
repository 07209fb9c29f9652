"""Screen 4: the dashboard — per-rep work, the pipeline, customer value, the open sea.

The store decides whose figures are shown (a rep: their own; a manager: the team; an admin:
everyone); this screen only draws ``Store.dashboard``, which runs in a thread worker. It is
loaded when the screen is shown and again, coalesced, when customers change elsewhere.
Managers open the rules screen (``R``) and the transfer screen (``t``) from here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Header, Static

from crm_tui.i18n import _
from crm_tui.present.textsafe import printable
from crm_tui.tui.screens.base import CrmScreen
from crm_tui.tui.widgets.charts import Bar, BarChart, WeekSparks
from crm_tui.tui.widgets.footer import KeyFooter

if TYPE_CHECKING:
    from crm_tui.store.reports import Dashboard

RELOAD_AFTER_CHANGE = 1.0
"""Seconds to wait after a change elsewhere before reloading (a burst of changes loads once)."""

REP_COLUMNS = (
    ("rep", "Rep"), ("owned", "Owned"), ("follow_ups_7d", "F/u 7d"), ("follow_ups_30d", "F/u 30d"),
    ("overdue", "Overdue"), ("recycle_soon", "Recycle soon"), ("won_this_month", "Won (month)"),
    ("won_amount_this_month", "Won amount"),
)

WARN_COLOURS = {"overdue": "error", "recycle_soon": "warning"}
"""Numbers that ask for attention when they are not zero: the theme colour they are drawn in."""


def money(value: Decimal | int | float) -> str:
    """An amount with thousands separators and no cents (the dashboard reads at a glance)."""
    return f"{Decimal(value):,.0f}"


class DashboardLoaded(Message):
    """The worker's result: the dashboard for the acting rep."""

    def __init__(self, board: Dashboard) -> None:
        super().__init__()
        self.board = board


class DashboardScreen(CrmScreen):
    """The team dashboard."""


    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", _("Refresh"), id="dashboard.refresh",
                tooltip=_("Load the figures again")),
        Binding("t", "transfer", _("Transfer"), id="dashboard.transfer",
                tooltip=_("Move customers from one rep to another (managers)")),
        Binding("R", "rules", _("Rules"), id="dashboard.rules",
                tooltip=_("The company rules: everyone reads them, admins change them")),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.board: Dashboard | None = None
        self._reload_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        if self.crm_app.store is not None:
            # Start the queries now, while the widgets are built (the figures are shown once
            # the screen is mounted: messages wait for on_mount).
            self.load()
        yield Header()
        yield Static(_("Loading the dashboard…"), id="dashboard-status", markup=False)
        yield DataTable(id="dashboard-reps", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="dashboard-charts"):
            with Vertical():
                yield BarChart(_("Pipeline (weighted)"), id="chart-pipeline", label_width=11)
            with Vertical():
                yield BarChart(_("Value tier"), id="chart-tiers", label_width=9)
                yield BarChart(_("RFM segment"), id="chart-rfm", label_width=9)
            with Vertical():
                yield WeekSparks(_("Open sea"), id="chart-sea")
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#dashboard-reps", DataTable)
        for key, title in REP_COLUMNS:
            table.add_column(_(title), key=key)
        app = self.crm_app
        app.customers_changed.subscribe(self, self._customers_changed)
        if app.store is None:
            app.store_ready.subscribe(self, lambda _data: self.load())

    def on_screen_resume(self) -> None:
        if self.board is not None:
            self.load()

    # --- loading ------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="dashboard",
          name="load the dashboard")
    def load(self) -> None:
        app = self.crm_app
        if app.store is None or app.me is None:
            return
        self.post_message(DashboardLoaded(app.store.dashboard(app.me)))

    def _customers_changed(self, _ids: Any) -> None:
        if not self.is_current:
            return  # shown again later: on_screen_resume loads fresh figures
        if self._reload_timer is not None:
            self._reload_timer.stop()
        self._reload_timer = self.set_timer(RELOAD_AFTER_CHANGE, self.load)

    @on(DashboardLoaded)
    def _show(self, event: DashboardLoaded) -> None:
        self.board = board = event.board
        self._show_status(board)
        self._show_reps(board)
        self._show_charts(board)

    def _show_status(self, board: Dashboard) -> None:
        scope = {
            "all": _("Everyone"),
            "team": _("Team {team}").format(team=printable(board.team)),
            "own": _("My figures"),
        }.get(board.scope, board.scope)
        when = board.generated_at.astimezone().strftime("%Y-%m-%d %H:%M")
        reps = _("{n} reps").format(n=len(board.reps)) if len(board.reps) != 1 else _("1 rep")
        self.query_one("#dashboard-status", Static).update(
            Text(" · ".join([scope, reps, _("as of {when}").format(when=when)]))
        )

    def _show_reps(self, board: Dashboard) -> None:
        table = self.query_one("#dashboard-reps", DataTable)
        table.clear()
        lines = list(board.reps)
        if len(lines) > 1:
            lines.append(board.totals)
        for line in lines:
            is_total = line.login == "total" and line is lines[-1] and len(board.reps) > 1
            label = Text(_("Total"), style="bold") if is_total else Text(
                printable(line.name if line.name == line.login else f"{line.name} ({line.login})"))
            cells: list[Any] = [label]
            for key in ("owned", "follow_ups_7d", "follow_ups_30d", "overdue", "recycle_soon",
                        "won_this_month"):
                number = getattr(line, key)
                style = self._theme_colour(WARN_COLOURS[key]) if number and key in WARN_COLOURS else ""
                if is_total:
                    style = f"bold {style}".strip()
                cells.append(Text(str(number), style=style, justify="right"))
            cells.append(Text(money(line.won_amount_this_month), justify="right",
                              style="bold" if is_total else ""))
            table.add_row(*cells, key=None if is_total else line.login)

    def _show_charts(self, board: Dashboard) -> None:
        pipeline = self.query_one("#chart-pipeline", BarChart)
        pipeline.set_bars([
            Bar(_(stage.stage), float(stage.weighted),
                _("{n} · {amount}").format(n=stage.count, amount=money(stage.weighted)))
            for stage in board.pipeline
        ])
        tiers = self.query_one("#chart-tiers", BarChart)
        tiers.set_bars([Bar(_("no tier") if tier == "none" else tier, count, str(count))
                        for tier, count in board.tiers.items()])
        rfm = self.query_one("#chart-rfm", BarChart)
        rfm.set_bars([Bar(_(segment), count, str(count)) for segment, count in board.rfm.items()])
        sea = board.open_sea
        weeks = sea.weeks
        first = weeks[0].week.strftime("%m-%d") if weeks else ""
        sparks = self.query_one("#chart-sea", WeekSparks)
        sparks.title = _("Open sea: {size:,} customers").format(size=sea.size)
        sparks.set_series(
            [(_("in"), [w.inflow for w in weeks], self._theme_colour("success")),
             (_("out"), [w.outflow for w in weeks], self._theme_colour("primary"))],
            caption="\n".join([
                _("{n} weeks from {first}").format(n=len(weeks), first=first),
                _("in: released, recycled, new"),
                _("out: claimed"),
            ]),
        )

    def _theme_colour(self, name: str) -> str:
        """The app theme's colour ``name`` (error, warning, success, primary) as a Rich colour,
        so every theme (light or dark) draws the dashboard in its own colours."""
        return getattr(self.app.current_theme, name, None) or ""

    # --- actions ------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self.load()

    def action_transfer(self) -> None:
        me = self.crm_app.me
        if me is None:
            return
        if not me.is_manager:
            self.notify(_("Only a manager or an admin may transfer customers."),
                        severity="warning", markup=False)
            return
        from crm_tui.tui.screens.transfer import TransferScreen

        self.app.push_screen(TransferScreen(), self._after_transfer)

    def _after_transfer(self, moved: int | None) -> None:
        if moved:
            self.load()

    def action_rules(self) -> None:
        from crm_tui.tui.screens.rules import RulesScreen

        self.app.push_screen(RulesScreen(), self._after_rules)

    def _after_rules(self, changed: bool | None) -> None:
        if changed:
            self.load()
