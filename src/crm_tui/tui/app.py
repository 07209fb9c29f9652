"""The Textual app: screens by mode (keys 1–4), global keys, the command palette, live updates.

Threading rule: database work runs in ``@work(thread=True, exclusive=True, exit_on_error=False,
group=...)`` workers (or ``run_worker(..., thread=True)``); workers never touch widgets, they
``post_message``; message handlers own every UI change. A failed worker is shown by the one
``Worker.StateChanged`` handler below (screens forward theirs, since that message does not
bubble), never a crash.

Start-up: the first frame does not wait for the store. ``crm`` builds the app with an
``opener`` run in a worker: it waits for the store's helper process (``store/helper.py``),
which imports SQLAlchemy and opens the database on another core meanwhile, or, on one core,
imports and opens the store itself; tests and other callers pass an open store to ``make_app``.
"""

from __future__ import annotations

import gc
import importlib
import os
import time
from collections import deque
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar, TypeGuard

from textual import events, on
from textual.app import App
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.signal import Signal
from textual.worker import Worker, WorkerState

from crm_tui.i18n import _
from crm_tui.tui.messages import CustomersChanged, StoreFailed, StoreReady
from crm_tui.tui.palette import CustomerCommands, ViewCommands
from crm_tui.tui.widgets.connection_banner import ConnectionBanner

if TYPE_CHECKING:
    from textual.timer import Timer

    from crm_tui.config import Settings
    from crm_tui.store import Actor, Clock
    from crm_tui.store.api import StoreApi, Watching

READY_FILE_ENV = "CRM_TUI_READY_FILE"
"""When set, the app writes the time (``time.time()``) the first rows were drawn to this file."""
NO_RECYCLE_ENV = "CRM_TUI_NO_RECYCLE"
"""When set (benchmarks on a shared read-only database), the app does not recycle at start."""

BACKGROUND_AFTER_SECONDS = 1.0
"""The change watcher and the recycle run start at the first rows, or this long after the store
opened when the first screen shows none."""
START_UP_GRACE_SECONDS = 5.0
"""The garbage collector runs again this long after mounting, whatever the first screen did."""

Opener = Callable[[], "tuple[StoreApi, Actor]"]

KEY_PROBE_PATIENCE = 1.0
"""Seconds a waiting key waits for the key before it to be handled, should that key's probe be
lost on the way (its widget closed by it, say): the next key then goes on anyway."""
KEY_PROBE_ROUNDS = 4
"""At most this many probes follow one key while its widgets still have messages queued (a key
whose action posts a message whose handler moves the focus: Esc leaving the search box)."""


class _KeyHandled(Message):
    """Sent behind a key to the widget the key went to: it bubbles to the app after the key did,
    so when the app gets it, that key has been handled (or reached the app's bindings)."""

    def __init__(self, key: events.Key, round: int) -> None:
        super().__init__()
        self.key = key
        self.round = round


def _later(module: str, name: str) -> Callable[[], Screen[Any]]:
    """A screen whose module is imported when its mode is first shown, not at start (only the
    screen ``crm`` opens on is built at start; its import is then part of the first frame)."""

    def make() -> Screen[Any]:
        return getattr(importlib.import_module(module), name)()

    return make


class CrmApp(App[None]):
    """crm-tui."""

    CSS_PATH = "app.tcss"
    RECONNECT_SECONDS = 1.5
    """While the database is unavailable, it is pinged (in a thread worker) this often."""
    TITLE = "crm"
    MODES: ClassVar[dict[str, Any]] = {
        "customers": _later("crm_tui.tui.screens.customer_list", "CustomerListScreen"),
        "due": _later("crm_tui.tui.screens.follow_ups", "FollowUpsScreen"),
        "open_sea": _later("crm_tui.tui.screens.open_sea", "OpenSeaScreen"),
        "dashboard": _later("crm_tui.tui.screens.dashboard", "DashboardScreen"),
    }
    DEFAULT_MODE = "due"
    """``crm`` opens on *Due today* (DESIGN §1); ``start_screen`` in the config file changes it."""
    COMMANDS = App.COMMANDS | {CustomerCommands, ViewCommands}

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    """Screens narrower than 100 columns get the class ``-narrow`` (app.tcss lays them out for
    80 columns: one column of fields, the dashboard's charts lower)."""
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    """Screens lower than 32 lines get the class ``-short`` (app.tcss: forms with one line per
    field, so New customer fits 24 lines, buttons included)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "go('customers')", _("List"), id="app.customers",
                tooltip=_("Customers: my private sea, or all I may see")),
        Binding("2", "go('due')", _("Due"), id="app.due",
                tooltip=_("Due today and the follow-up log")),
        Binding("3", "go('open_sea')", _("Sea"), id="app.open_sea",
                tooltip=_("The open sea: customers nobody owns")),
        Binding("4", "go('dashboard')", _("Board"), id="app.dashboard",
                tooltip=_("The team dashboard")),
        Binding("question_mark", "help", _("Help"), id="app.help",
                tooltip=_("Every key, on one screen")),
        Binding("q", "quit", _("Quit"), id="app.quit", show=False, tooltip=_("Leave crm")),
    ]

    def __init__(
        self,
        store: StoreApi | None,
        actor: Actor | None,
        settings: Settings | None = None,
        clock: Clock | None = None,
        *,
        opener: Opener | None = None,
        database_label: str = "",
        cursor_blink: bool = True,
        watch_changes: bool = True,
        recycle_at_start: bool = True,
        start_mode: str | None = None,
    ) -> None:
        mode = start_mode or (settings.start_screen if settings is not None else None)
        if mode:
            # Read by App.__init__: the screen the app opens on. Textual declares it a ClassVar,
            # but this app's mode is its own, not every CrmApp's.
            self.DEFAULT_MODE = mode  # type: ignore[misc]  # per instance on purpose
        super().__init__()
        if store is None and opener is None:
            raise ValueError("CrmApp needs a store or an opener")
        self.store: StoreApi | None = store
        """The store (``StoreApi``: the store itself, or the helper's), once it is open."""
        self.me: Actor | None = actor
        self.settings = settings
        self.clock = clock
        """Fixes "today" (overdue colours) for tests; else the store's clock."""
        self.cursor_blink = cursor_blink
        """Off in snapshot tests, so the picture does not depend on when it is taken."""
        self.watch_changes = watch_changes
        self.recycle_at_start = recycle_at_start
        """Apply the recycle rules at start when the last run is stale (DESIGN §4)."""
        self._opener = opener
        self._database_label = database_label
        self.startup_error: BaseException | None = None
        """Why the store could not be opened; ``crm`` reports it after the app exits."""
        self._watcher: Watching | None = None
        self.database_unavailable: str | None = None
        """While the database cannot be reached: the store's sentence saying why (else None)."""
        self._reconnect_timer: Timer | None = None
        self._background_pending = False
        self._first_rows_were_shown = False
        self._banners: list[ConnectionBanner] = []
        self._ready_file = os.environ.get(READY_FILE_ENV) or None
        self._keys_waiting: deque[events.Key] = deque()
        self._key_in_flight: events.Key | None = None
        self._key_target: Any = None
        self._key_sent_at = 0.0
        self.store_ready: Signal[None] = Signal(self, "store_ready")
        self.customers_changed: Signal[frozenset[int] | None] = Signal(self, "customers_changed")
        if settings is not None and settings.theme:
            self.theme = settings.theme
        self._show_identity()

    # --- start-up -------------------------------------------------------------------------------

    def on_mount(self) -> None:
        # Screens that show no rows at start (the dashboard) never call first_rows_shown.
        self.set_timer(START_UP_GRACE_SECONDS, self._start_up_over)
        if self.settings is not None and self.settings.keymap:
            self.set_keymap(self.settings.keymap)
        if self.store is not None and self.me is not None:
            self.post_message(StoreReady(self.store, self.me))
        else:
            self.run_worker(self._open_store, thread=True, exit_on_error=False,
                            group="open-store", name="open the database")

    def _open_store(self) -> None:
        assert self._opener is not None
        try:
            store, actor = self._opener()
        except Exception as exc:  # noqa: BLE001 - reported by the app, then `crm` exits with it
            self.post_message(StoreFailed(exc))
            return
        self.post_message(StoreReady(store, actor))

    @on(StoreReady)
    def _store_ready(self, event: StoreReady) -> None:
        self.store, self.me = event.store, event.actor
        self._show_identity()
        # The watcher's connection and the recycle run wait for the first rows (or a second):
        # on the way to them they only compete for the GIL with the first screen's reads.
        self._background_pending = True
        self.store_ready.publish(None)
        # A screen given a ready store can show its rows before this message is handled.
        if self._first_rows_were_shown:
            self._start_background_work()
        else:
            self.set_timer(BACKGROUND_AFTER_SECONDS, self._start_background_work)

    def _start_background_work(self) -> None:
        """Start watching other clients' changes, then recycle if the last run is stale."""
        if not self._background_pending or self.store is None:
            return
        self._background_pending = False
        store, me = self.store, self.me
        if self.watch_changes:
            def report(ids: frozenset[int] | None) -> None:
                self.post_message(CustomersChanged(ids))

            self._watcher = store.watch(report)
        if self.recycle_at_start:
            self.run_worker(lambda: store.recycle_if_stale(me), thread=True, exit_on_error=False,
                            group="recycle", name="recycle stale customers")

    @on(StoreFailed)
    def _store_failed(self, event: StoreFailed) -> None:
        self.startup_error = event.error
        self.exit(return_code=getattr(event.error, "exit_code", 1))

    def _show_identity(self) -> None:
        """Header: who I am and which database (SQLite path or PostgreSQL host/db)."""
        label = self._database_label or (self.store.label if self.store is not None else "")
        if self.me is not None:
            who = f"{self.me.name} ({self.me.login}, {self.me.role})"
            self.sub_title = f"{who} · {label}"
        else:
            self.sub_title = _("opening {database}…").format(database=label)

    @staticmethod
    def _start_up_over() -> None:
        """Let the garbage collector run again if ``launcher`` paused it for the start."""
        if not gc.isenabled():
            # What start-up built lives as long as the app: out of the collector's way for good,
            # so later full collections (~0.1 s each, one portrait push in three) walk only
            # newer objects.
            gc.freeze()
            gc.enable()

    def first_rows_shown(self) -> None:
        """The first screen drew its first rows from the store: start-up is over.

        Records the moment for ``bench/bench_tui.py``, and lets the garbage collector run again
        when ``launcher`` paused it for the start (tens of thousands of new objects, none of them
        garbage, would set off a dozen pointless collections while the modules load).
        """
        self._start_up_over()
        self._first_rows_were_shown = True
        self._start_background_work()
        if self._ready_file:
            path, self._ready_file = self._ready_file, None
            partial_path = f"{path}.partial"
            with open(partial_path, "w", encoding="utf-8") as out:
                out.write(f"{time.time():.6f}\n")
            os.replace(partial_path, path)  # readers never see a half-written file

    def on_unmount(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()

    # --- keys, one at a time ---------------------------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        """Keys from the terminal are handled one at a time, in the widget focused when the key
        before them is done.

        Textual forwards each key to the widget focused *now* and resolves most bindings (Tab,
        ctrl+u, Esc, the screens' keys) only when the key has bubbled back up to the app, through
        one message queue per widget. Keys that arrive together (a paste, ``tmux send-keys``, a
        laggy SSH link) would all be forwarded before the first one's binding moved the focus:
        "Burst", Tab, "+2d" typed "Burst+2d" into one field. So a key waits while the one before
        it is on its way; a probe (``_KeyHandled``) sent behind that key says when it is done.
        """
        if isinstance(event, events.Key) and not event.is_forwarded:
            target = self._key_target
            if self._key_in_flight is not None and target is not None and not target.is_attached:
                # The key before closed its widget (Enter saving a dialog): its probe is gone
                # with the widget's queue, and nothing is left for this key to wait for.
                self._key_in_flight = self._key_target = None
            if self._key_in_flight is not None or self._keys_waiting:
                self._keys_waiting.append(event)
                if len(self._keys_waiting) == 1:
                    self.set_timer(KEY_PROBE_PATIENCE / 4, self._check_lost_probe)
                return
            await self._send_key(event)
            return
        await super().on_event(event)

    async def _send_key(self, event: events.Key) -> None:
        target = self.focused or self.screen
        await super().on_event(event)
        self._key_in_flight = event
        self._key_sent_at = time.monotonic()
        if event.is_forwarded and target.is_attached:
            # Forwarded to ``target``: the probe follows it through the same queues. Should the
            # key close the widget, its probe is lost with it: the check lets the key go.
            self._key_target = target
            target.post_message(_KeyHandled(event, 1))
            self.set_timer(KEY_PROBE_PATIENCE / 4, self._check_lost_probe)
        else:
            # Handled here (a priority binding): whatever it asked of the app (a focus change
            # through call_later) is queued already; the next key goes behind it.
            self._key_target = None
            self.call_later(self._key_done, event, KEY_PROBE_ROUNDS)

    @on(_KeyHandled)
    def _probe_back(self, message: _KeyHandled) -> None:
        message.stop()
        # Behind what the key's handlers asked of the app meanwhile (``focus()`` is a call_later).
        self.call_later(self._key_done, message.key, message.round)

    async def _key_done(self, key: events.Key, round: int) -> None:
        if key is not self._key_in_flight:
            return
        target = self._key_target
        if (round < KEY_PROBE_ROUNDS and target is not None and target.is_attached
                and any(node.message_queue_size for node in target.ancestors_with_self
                        if node is not self)):
            # The key's handlers posted messages still on their way (Esc in the search box
            # posts "leave", whose handler focuses the table): one more round behind them.
            target.post_message(_KeyHandled(key, round + 1))
            return
        self._key_in_flight = self._key_target = None
        await self._send_next_key()

    async def _send_next_key(self, mounted_or_not: bool = False) -> None:
        if not self._keys_waiting or self._key_in_flight is not None:
            return
        if not self.screen.is_mounted and not mounted_or_not:
            # A key pushed a screen: its first focus is set as it mounts; the key after waits.
            self.call_after_refresh(self._send_next_key)
            return
        await self._send_key(self._keys_waiting.popleft())

    async def _check_lost_probe(self) -> None:
        """A key whose widget closed (or dropped the probe) does not hold up the keys after it,
        nor stay "in flight" for ever when no key follows it."""
        if self._key_in_flight is None and not self._keys_waiting:
            return
        target = self._key_target
        overdue = time.monotonic() - self._key_sent_at > KEY_PROBE_PATIENCE
        lost = self._key_in_flight is not None and (
            (target is not None and not target.is_attached) or overdue)
        if lost:
            self._key_in_flight = self._key_target = None
        if self._key_in_flight is None and self._keys_waiting:
            # Waiting keys with none in flight: a screen still mounting holds them for at most
            # the patience, then they go on.
            await self._send_next_key(mounted_or_not=overdue)
        if self._key_in_flight is not None or self._keys_waiting:
            self.set_timer(KEY_PROBE_PATIENCE / 4, self._check_lost_probe)

    # --- what screens ask of the app ----------------------------------------------------------

    def today(self) -> date:
        clock = self.clock or (self.store.clock if self.store is not None else None)
        return clock.today() if clock is not None else date.today()

    def open_customer(self, customer_id: int, intent: str | None = None) -> None:
        """Show a customer's portrait on top of the current screen."""
        from crm_tui.tui.screens.portrait import PortraitScreen

        if intent is None:
            self.push_screen(PortraitScreen(customer_id))
        else:
            self.push_screen(PortraitScreen(customer_id, intent=intent))

    def action_go(self, mode: str) -> None:
        """Keys 1–4: that screen itself, from anywhere (a portrait on top of it is closed).

        ``switch_mode`` alone would do nothing from a portrait opened from the same screen, and
        coming back to a mode would show what was last on top of it (a portrait) instead of the
        screen the key names. Dialogs are left alone: a form half filled in is not thrown away.
        """
        if mode != self.current_mode:
            self.switch_mode(mode)
        stack = self.screen_stack
        while len(stack) > 1 and not isinstance(stack[-1], ModalScreen):
            self.pop_screen()
            stack = self.screen_stack

    def get_key_display(self, binding: Binding) -> str:
        """Keys as the footer and the help show them, in glyphs one cell wide everywhere.

        Textual writes Enter as ⏎, which some terminals (and fonts) draw two cells wide: the
        footer then shifts by a cell and leaves debris at its end ("palettee")."""
        if not binding.key_display and binding.key == "enter":
            return _("enter")
        return super().get_key_display(binding)

    def action_help(self) -> None:
        from crm_tui.tui.dialogs.help import HelpScreen, keys_of

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(keys_of(self.screen)))

    # --- messages -----------------------------------------------------------------------------

    @on(CustomersChanged)
    def _customers_changed(self, event: CustomersChanged) -> None:
        self.customers_changed.publish(event.ids)

    @on(Worker.StateChanged)
    def _show_worker_outcome(self, event: Worker.StateChanged) -> None:
        """The one place a failed worker is shown (as a notification), instead of a crash."""
        worker = event.worker
        if event.state == WorkerState.SUCCESS and worker.group == "recycle" and worker.result:
            self.notify(_("{n} customers went back to the open sea (recycle rules).").format(
                n=worker.result if isinstance(worker.result, int) else len(worker.result)))
            return
        if worker.group == "reconnect":
            self._reconnect_outcome(event)
            return
        if event.state != WorkerState.ERROR:
            return
        error = worker.error
        if _is_unavailable(error):
            self.connection_lost(error)
        elif hasattr(error, "exit_code"):
            # A store error: one sentence meant for the user.
            self.notify(str(error), title=_("Refused"), severity="error", markup=False)
        else:
            self.log.error(f"worker {worker.name!r} failed", error)
            self.notify(
                _("{what} failed: {kind}: {error}").format(
                    what=worker.name or _("A task"), kind=type(error).__name__, error=error),
                title=_("Unexpected error"), severity="error", timeout=10, markup=False,
            )

    # --- a lost database connection (DESIGN §8) -------------------------------------------------

    def connection_lost(self, error: BaseException) -> None:
        """The database cannot be reached: show the banner and ping it until it answers.

        Screens and forms that catch ``DatabaseUnavailable`` themselves may call this too.
        Nothing typed is touched: inputs and forms keep their values; the screens reload
        (``customers_changed``) once the database is back.
        """
        self.database_unavailable = str(error)
        self._show_banner()
        if self._reconnect_timer is None:
            self._reconnect_timer = self.set_interval(self.RECONNECT_SECONDS, self._try_reconnect,
                                                      name="reconnect")

    def _show_banner(self) -> None:
        """The banner on the screen in front (mounted there if that screen has none yet)."""
        reason = self.database_unavailable or ""
        for banner in self._banners:
            if banner.is_attached:
                banner.show_reason(reason)
        screen = self.screen
        if not any(b.is_attached and b.screen is screen for b in self._banners):
            banner = ConnectionBanner(reason)
            self._banners.append(banner)
            screen.mount(banner)

    def _try_reconnect(self) -> None:
        self._show_banner()  # the user may have switched screens meanwhile
        if self.store is None or any(w.group == "reconnect" and not w.is_finished
                                     for w in self.workers):
            return
        store = self.store
        self.run_worker(store.ping, thread=True, exclusive=True, exit_on_error=False,
                        group="reconnect", name="reconnect to the database")

    def _reconnect_outcome(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            if not _is_unavailable(error):
                self.log.error("reconnect ping failed", error)
            if self.database_unavailable is not None:
                self.database_unavailable = str(error)
                self._show_banner()
        elif event.state == WorkerState.SUCCESS and self.database_unavailable is not None:
            self._connection_back()

    def _connection_back(self) -> None:
        self.database_unavailable = None
        if self._reconnect_timer is not None:
            self._reconnect_timer.stop()
            self._reconnect_timer = None
        banners, self._banners = self._banners, []
        for banner in banners:
            if banner.is_attached:
                banner.remove()
        self.notify(_("Reconnected to the database."), title=_("Reconnected"))
        # The same message the live-update watcher posts: every screen fetches its data again.
        self.post_message(CustomersChanged(None))


def _is_unavailable(error: BaseException | None) -> TypeGuard[BaseException]:
    """Is ``error`` the store's ``DatabaseUnavailable`` (imported late: the store loads late)?"""
    if error is None or not hasattr(error, "exit_code"):
        return False
    from crm_tui.store.errors import DatabaseUnavailable

    return isinstance(error, DatabaseUnavailable)


def make_app(
    store: StoreApi | None,
    actor: Actor | None,
    settings: Settings | None = None,
    clock: Clock | None = None,
    *,
    opener: Opener | None = None,
    database_label: str = "",
    cursor_blink: bool = True,
    watch_changes: bool = True,
    recycle_at_start: bool = True,
    start_mode: str | None = None,
) -> CrmApp:
    """The one factory for ``crm`` and the tests.

    Either an open ``store`` and its ``actor`` (tests), or an ``opener`` that opens them in a
    worker after the first frame (``crm``). ``database_label`` names the database in the header
    (default: the store's label), so it shows before the store is open and tests can fix it.
    ``start_mode`` (a key of ``CrmApp.MODES``) overrides the screen it opens on.
    """
    return CrmApp(store, actor, settings, clock, opener=opener, database_label=database_label,
                  cursor_blink=cursor_blink, watch_changes=watch_changes,
                  recycle_at_start=recycle_at_start, start_mode=start_mode)
