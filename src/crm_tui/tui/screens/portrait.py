"""The customer portrait: everything about one customer on one screen, and the keys to act on it.

Left: the header card (owner, status, tier, lock, the follow-up clock), value and completeness,
tags/notes/extra fields, contacts, deals, ownership history (and the change history on `h`).
Right: the follow-up timeline, newest first. The drawing is shared with ``crm show``
(``crm_tui.present.portrait``). The store is read in a thread worker (``portrait_view``); every change goes
through a dialog of ``screens/forms.py`` or a store call in a worker, then the portrait reloads.
Claim, release and lock call the store's ``claim``/``release``/``lock``/``unlock`` when it has
them (``store/sea.py``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Header, Static

from crm_tui.i18n import _
from crm_tui.present.portrait import (
    audit_table,
    contacts_table,
    deals_table,
    details_text,
    header_card,
    ownership_table,
    section_title,
)
from crm_tui.present.textsafe import printable
from crm_tui.tui.screens.base import CrmScreen
from crm_tui.tui.widgets.footer import KeyFooter
from crm_tui.tui.widgets.timeline import Timeline
from crm_tui.tui.widgets.value_badges import ValueBadges

if TYPE_CHECKING:
    from crm_tui.store.records import Portrait
    from crm_tui.store.reports import PortraitView

FOLLOW_UP_WINDOW = 20
"""Follow-ups drawn at first (a screenful and more: fewer to lay out, issue 5's 100 ms);
`m` shows them all."""

OWNER_ACTIONS = ("follow_up", "edit", "new_deal", "move_deal", "add_contact", "release", "lock",
                 "merge")


class PortraitScreen(CrmScreen):
    """One customer: details, value, contacts, deals, follow-ups and history."""

    # Few widgets on purpose (issue 5: open in <= 100 ms): every widget costs a compose, a CSS
    # match, a layout and a render pass, so the left column is three Statics (card, value,
    # everything else as one Rich group) and the right one a title and the timeline.

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", _("Back"), id="portrait.back", tooltip=_("Back to the list")),
        Binding("f", "follow_up", _("Follow-up"), id="portrait.follow_up",
                tooltip=_("Log a follow-up and set the next date")),
        Binding("e", "edit", _("Edit"), id="portrait.edit", tooltip=_("Edit the customer")),
        Binding("d", "new_deal", _("New deal"), id="portrait.new_deal",
                tooltip=_("Add a deal to the pipeline")),
        Binding("s", "move_deal", _("Stage"), id="portrait.move_deal",
                tooltip=_("Move a deal to another stage")),
        Binding("o", "add_contact", _("Contact"), id="portrait.add_contact", show=False,
                tooltip=_("Add a contact person")),
        Binding("c", "claim", _("Claim"), id="portrait.claim",
                tooltip=_("Claim this open-sea customer")),
        Binding("r", "release", _("Release"), id="portrait.release",
                tooltip=_("Release this customer to the open sea, with a reason")),
        Binding("l", "lock", _("Lock"), id="portrait.lock",
                tooltip=_("Lock (or unlock) as a key account, exempt from recycling")),
        Binding("m", "all_follow_ups", _("All follow-ups"), id="portrait.all_follow_ups",
                show=False, tooltip=_("Show every follow-up, not only the newest")),
        Binding("h", "history", _("History"), id="portrait.history", show=False,
                tooltip=_("Show or hide the change history")),
        Binding("M", "merge", _("Merge"), id="portrait.merge", show=False,
                tooltip=_("Merge other records of this customer into it")),
    ]

    class Loaded(Message):
        def __init__(self, view: PortraitView) -> None:
            super().__init__()
            self.view = view

    class Unavailable(Message):
        def __init__(self, error: Exception) -> None:
            super().__init__()
            self.error = error

    class Acted(Message):
        """A store action (claim, release, lock) succeeded; ``text`` says what happened."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, customer_id: int, intent: str | None = None) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.intent = intent
        """What the user asked for from the list (edit, follow_up, claim, release, lock)."""
        self.portrait: Portrait | None = None
        self.all_follow_ups = False
        self.show_history = False
        self.load_count = 0
        """How many times the portrait arrived from the store (tests wait on it)."""
        self._shown_keys_state = self._keys_state()
        self.first_drawn_at: float | None = None
        """``time.perf_counter()`` after the first portrait was painted (``bench_portrait.py``)."""
        self.first_drawn_cpu: float | None = None
        """``time.process_time()`` at the same moment (CPU of the whole process, every thread)."""

    # --- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        if self.crm_app.store is not None:
            # Read now, while the widgets are built: the portrait often arrives before the
            # first frame, which then is the only one (no empty frame painted first).
            self.load()
        yield Header()
        with Horizontal(id="portrait-body"):
            with VerticalScroll(id="portrait-left"):
                # Says "Loading…" (or why the customer cannot be shown) until the portrait arrives.
                yield Static(_("Loading customer #{id}…").format(id=self.customer_id),
                             id="portrait-card", classes="portrait-block", markup=False)
                yield ValueBadges(id="portrait-value", classes="portrait-block")
                # Tags, notes, extra fields, contacts, deals, ownership and change history.
                yield Static(id="portrait-details", classes="portrait-block")
            with VerticalScroll(id="portrait-right"):
                yield Static(section_title(_("Follow-ups")), id="timeline-title")
                yield Timeline(id="portrait-timeline")
        yield KeyFooter()

    def on_mount(self) -> None:
        app = self.crm_app
        app.customers_changed.subscribe(self, self._customers_changed)
        if app.store is None:
            app.store_ready.subscribe(self, lambda _data: self.load())

    def on_unmount(self) -> None:
        # A signal keeps its subscriber until the next publish: without this, every portrait
        # opened and closed stays in memory (and makes each garbage collection slower).
        app = self.crm_app
        app.customers_changed.unsubscribe(self)
        app.store_ready.unsubscribe(self)

    # --- loading ------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="portrait-load")
    def load(self) -> None:
        """Read the portrait (and the follow-up count) from the store, off the event loop."""
        from crm_tui.store.errors import NotFound, PermissionDenied

        limit = None if self.all_follow_ups else FOLLOW_UP_WINDOW
        try:
            view = self.store.portrait_view(self.me, self.customer_id,
                                            history=self.show_history, follow_up_limit=limit)
        except (NotFound, PermissionDenied) as exc:
            self.post_message(self.Unavailable(exc))
            return
        self.post_message(self.Loaded(view))

    def _customers_changed(self, ids: frozenset[int] | None) -> None:
        if ids is None or self.customer_id in ids:
            self.load()

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        portrait = event.view.portrait
        self.portrait = portrait
        self.load_count += 1
        today = self.crm_app.today()
        self.query_one("#portrait-card", Static).update(header_card(portrait, today))
        self.query_one(ValueBadges).show_value(portrait.value)
        self.query_one("#portrait-details", Static).update(self._details(portrait))
        timeline = self.query_one(Timeline)
        timeline.show_follow_ups(portrait.follow_ups, event.view.older_follow_ups)
        title = _("Follow-ups ({n})").format(n=event.view.follow_up_total)
        if event.view.older_follow_ups:
            title += "  " + _("m: show all")
        self.query_one("#timeline-title", Static).update(section_title(title))
        self.sub_title = printable(portrait.customer.name)
        keys_state = self._keys_state()
        if keys_state != self._shown_keys_state:  # redrawing the footer costs a recompose
            self._shown_keys_state = keys_state
            self.refresh_bindings()
        if self.load_count == 1:
            self.call_after_refresh(self._first_drawn)
        if self.intent:
            intent, self.intent = self.intent, None
            if self.check_action(intent, ()):
                getattr(self, f"action_{intent}")()
            else:
                self.app.notify(_("Not possible for this customer: {what}.").format(what=intent),
                                severity="warning", markup=False)

    def _first_drawn(self) -> None:
        self.first_drawn_cpu = time.process_time()
        self.first_drawn_at = time.perf_counter()

    def _details(self, portrait: Portrait) -> Group:
        """Everything below the value line, as one renderable (one widget to lay out)."""
        parts: list[RenderableType] = [
            details_text(portrait.customer), Text(""),
            section_title(_("Contacts")), contacts_table(portrait.contacts), Text(""),
            section_title(_("Deals")), deals_table(portrait.deals), Text(""),
            section_title(_("Ownership history")), ownership_table(portrait.ownership),
        ]
        if self.show_history:
            body = audit_table(portrait.audit) if portrait.audit else Text(_("No changes recorded."))
            parts += [Text(""), section_title(_("Change history")), body]
        return Group(*parts)

    @on(Unavailable)
    def _unavailable(self, event: Unavailable) -> None:
        self.portrait = None
        self.query_one("#portrait-card", Static).update(Text(str(event.error), style="bold"))
        self.query_one(ValueBadges).update("")
        self.query_one("#portrait-details", Static).update("")
        self.query_one(Timeline).show_follow_ups([], 0)
        self.refresh_bindings()

    # --- which keys apply -----------------------------------------------------------------------

    def _keys_state(self) -> tuple[bool, bool]:
        """What decides which keys apply: (in the open sea, has deals)."""
        if self.portrait is None:
            return (False, True)  # assume an owned customer until it arrives
        return (self.portrait.customer.owner is None, bool(self.portrait.deals))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("claim", "release", "lock") and self.crm_app.store is None:
            return False
        in_pool, has_deals = self._keys_state()
        if action == "claim":
            return in_pool
        if action in OWNER_ACTIONS:
            if in_pool:
                return False
            if action == "move_deal":
                return has_deals
        return True

    # --- actions ------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_follow_up(self) -> None:
        from crm_tui.tui.dialogs.follow_up_form import FollowUpFormScreen

        if self.portrait is not None:
            self.app.push_screen(FollowUpFormScreen(
                self.customer_id, self.portrait.customer.name, self.crm_app.today()),
                self._after_form)

    def action_edit(self) -> None:
        from crm_tui.tui.dialogs.customer_form import EditCustomerScreen

        if self.portrait is not None:
            self.app.push_screen(EditCustomerScreen(self.portrait.customer), self._after_form)

    def action_add_contact(self) -> None:
        from crm_tui.tui.dialogs.contact_form import ContactFormScreen

        if self.portrait is not None:
            self.app.push_screen(ContactFormScreen(self.customer_id), self._after_form)

    def action_new_deal(self) -> None:
        from crm_tui.tui.dialogs.deal_forms import DealFormScreen

        if self.portrait is not None:
            self.app.push_screen(DealFormScreen(self.customer_id, self.portrait.customer.name),
                                 self._after_deal)

    def action_move_deal(self) -> None:
        from crm_tui.tui.dialogs.deal_forms import MoveStageScreen

        if self.portrait is not None and self.portrait.deals:
            self.app.push_screen(MoveStageScreen(list(self.portrait.deals)), self._after_deal)

    def action_merge(self) -> None:
        """Merge other records of this customer into it (the store says who may)."""
        from crm_tui.tui.dialogs.customer_form import MergeScreen

        if self.portrait is not None:
            self.app.push_screen(MergeScreen(self.customer_id, self.portrait.customer.name),
                                 self._after_deal)

    def action_claim(self) -> None:
        self.claim()

    def action_release(self) -> None:
        if self.portrait is not None:
            self.open_release(self.portrait.customer.name)

    def action_lock(self) -> None:
        if self.portrait is not None:
            self.toggle_lock(not self.portrait.customer.locked)

    def action_all_follow_ups(self) -> None:
        self.all_follow_ups = True
        self.load()

    def action_history(self) -> None:
        self.show_history = not self.show_history
        self.load()

    def _after_form(self, result: Any) -> None:
        if result is not None:
            self.load()

    def _after_deal(self, result: Any) -> None:
        if result is not None:
            self.load()
            self.refresh_tiers()

    # --- store calls in workers -----------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="portrait-tiers")
    def refresh_tiers(self) -> None:
        """A deal changed: bring the A/B/C tiers up to date in the background, then redraw."""
        refreshed = self.store.refresh_tiers_if_stale()
        if refreshed is not None and refreshed.changed:
            self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="portrait-act", name="claim")
    def claim(self) -> None:
        record = self.store.claim(self.customer_id, self.me)
        self.post_message(self.Acted(_("Claimed {name}.").format(name=record.name)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="portrait-act", name="lock")
    def toggle_lock(self, locked: bool) -> None:
        if locked:
            record = self.store.lock(self.customer_id, self.me)
            text = _("Locked {name}: exempt from recycling.").format(name=record.name)
        else:
            record = self.store.unlock(self.customer_id, self.me)
            text = _("Unlocked {name}.").format(name=record.name)
        self.post_message(self.Acted(text))

    @work(thread=True, exclusive=True, exit_on_error=False, group="portrait-act", name="release")
    def open_release(self, name: str) -> None:
        reasons = self.store.release_reasons()
        self.app.call_from_thread(self._push_release, name, reasons)

    def _push_release(self, name: str, reasons: list[str]) -> None:
        from crm_tui.store.domain import OPEN_STAGES
        from crm_tui.tui.dialogs.release_form import ReleaseFormScreen

        deals = self.portrait.deals if self.portrait is not None else []
        open_deals = [deal for deal in deals if deal.stage in OPEN_STAGES]
        self.app.push_screen(ReleaseFormScreen(self.customer_id, name, reasons, open_deals),
                             self._released)

    def _released(self, record: Any) -> None:
        if record is not None:
            self.post_message(self.Acted(_("Released {name} to the open sea.").format(name=record.name)))

    @on(Acted)
    def _acted(self, event: Acted) -> None:
        self.app.notify(event.text, markup=False)
        self.load()
