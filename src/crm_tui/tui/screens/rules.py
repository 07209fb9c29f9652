"""The rules screen: the company rules (the open-sea rules and the other settings), which an
admin changes and everyone else reads.

The store validates and applies (``Store.set_rules``: all values or none, each change audited);
this screen only sends the text typed, and shows the store's sentence when a value is refused,
naming the setting. Who may change them is the store's rule (``may_change_rules``: admins);
for anyone else the fields are read-only and the note says why. When the store answers that a
change puts reps over a cap (``OverCapRefused``), the screen asks before saving it anyway.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Label, Static, Switch

from crm_tui.i18n import _
from crm_tui.present.textsafe import printable
from crm_tui.store.team.settings import RULES, OverCap, OverCapRefused, may_change_rules
from crm_tui.tui.screens.base import CrmModal

ADMINS_ONLY = _("Company rules — only an admin may change them.")


def rule_text(value: Any) -> str:
    """A rule's value as it is typed in the form (a list as comma-separated text)."""
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


class RulesScreen(CrmModal[bool]):
    """Dismisses with True when rules were changed."""


    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", _("Close"), id="rules.cancel",
                tooltip=_("Close, changing nothing")),
        Binding("ctrl+s", "save", _("Save"), id="rules.save",
                tooltip=_("Save the changed rules (admins)")),
    ]

    class Loaded(Message):
        def __init__(self, values: dict[str, Any]) -> None:
            super().__init__()
            self.values = values

    class Saved(Message):
        def __init__(self, values: dict[str, Any], changed: list[str]) -> None:
            super().__init__()
            self.values = values
            self.changed = changed

    class OverCapFound(Message):
        """The store refused the change until confirmed: it puts these reps over a cap."""

        def __init__(self, changes: dict[str, Any], over: list[OverCap]) -> None:
            super().__init__()
            self.changes = changes
            self.over = over

    class Refused(Message):
        def __init__(self, message: str, field: str | None) -> None:
            super().__init__()
            self.message = message
            self.field = field

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, Any] = {}
        """The rules as last read from the store."""

    @property
    def may_change(self) -> bool:
        me = self.crm_app.me
        return me is not None and may_change_rules(me)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(_("Company rules: the open sea and other settings"), id="rules-title",
                         markup=False)
            yield Static(id="rules-note", markup=False)
            with VerticalScroll(), Grid():
                for key, spec in RULES.items():
                    yield Label(key, classes="rule-key", markup=False)
                    if spec.kind is bool:
                        yield Switch(value=bool(spec.default), id=f"rule-{key}")
                    else:
                        yield Input(rule_text(spec.default), id=f"rule-{key}",
                                    select_on_focus=False)
                    yield Label(spec.help, classes="rule-help", markup=False)
            yield Static(id="rules-error", markup=False)
            with Horizontal():
                yield Button(_("Save"), variant="primary", id="rules-save")
                yield Button(_("Close"), id="rules-close")

    def on_mount(self) -> None:
        for field in self.query(Input):
            # Off in snapshot tests, so the picture does not depend on when it is taken.
            field.cursor_blink = getattr(self.app, "cursor_blink", True)
        note = self.query_one("#rules-note", Static)
        if self.may_change:
            note.update(Text(_("Change a value and press ctrl+s. Every value is checked before "
                               "anything is saved.")))
        else:
            note.update(Text(ADMINS_ONLY))
            for widget in self.query("Input, Switch"):
                widget.disabled = True
            self.query_one("#rules-save", Button).disabled = True
        self.load()

    def _field(self, key: str) -> Input | Switch:
        field = self.query_one(f"#rule-{key}")
        assert isinstance(field, (Input, Switch))
        return field

    # --- workers ------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="rules", name="load the rules")
    def load(self) -> None:
        self.post_message(self.Loaded(self.store.rules()))

    @work(thread=True, exclusive=True, exit_on_error=False, group="rules", name="save the rules")
    def save(self, changes: dict[str, Any], over_cap_ok: bool = False) -> None:
        try:
            values = self.store.set_rules(self.me, changes, over_cap_ok=over_cap_ok)
        except OverCapRefused as exc:
            self.post_message(self.OverCapFound(changes, exc.over))
            return
        except Exception as exc:
            if not hasattr(exc, "exit_code"):
                raise
            self.post_message(self.Refused(str(exc), getattr(exc, "field", None)))
            return
        self.post_message(self.Saved(values, sorted(changes)))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        self.values = event.values
        for key, value in event.values.items():
            field = self._field(key)
            if isinstance(field, Switch):
                field.value = bool(value)
            else:
                field.value = rule_text(value)

    @on(Saved)
    def _saved(self, event: Saved) -> None:
        self.values = event.values
        self.app.notify(_("Rules saved: {keys}.").format(keys=", ".join(event.changed)),
                        markup=False)
        self.dismiss(True)

    @on(OverCapFound)
    def _over_cap_found(self, event: OverCapFound) -> None:
        def answered(save_anyway: bool | None) -> None:
            if save_anyway:
                self.save(event.changes, over_cap_ok=True)
            else:
                self.query_one("#rules-error", Static).update(
                    Text(_("Nothing was saved: the change would put reps over a cap.")))

        self.app.push_screen(OverCapConfirm(event.over), answered)

    @on(Refused)
    def _refused(self, event: Refused) -> None:
        self.query_one("#rules-error", Static).update(Text(printable(event.message)))
        if event.field and self.values and event.field in self.values:
            field = self._field(event.field)
            field.add_class("-invalid-rule")
            field.focus()

    # --- actions ------------------------------------------------------------------------------

    def changes(self) -> dict[str, Any]:
        """The values that differ from the stored ones, as typed (the store parses them)."""
        changed: dict[str, Any] = {}
        for key, stored in self.values.items():
            field = self._field(key)
            if isinstance(field, Switch):
                if field.value != bool(stored):
                    changed[key] = field.value
            elif field.value.strip() != rule_text(stored):
                changed[key] = field.value
        return changed

    def action_save(self) -> None:
        if not self.may_change:
            self.notify(ADMINS_ONLY, severity="warning", markup=False)
            return
        for widget in self.query(".-invalid-rule"):
            widget.remove_class("-invalid-rule")
        self.query_one("#rules-error", Static).update("")
        changes = self.changes()
        if not changes:
            self.dismiss(False)
            return
        self.save(changes)

    def action_cancel(self) -> None:
        self.dismiss(False)

    @on(Button.Pressed, "#rules-save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#rules-close")
    def _close_pressed(self) -> None:
        self.action_cancel()


class OverCapConfirm(CrmModal[bool]):
    """Asks before saving rules that leave reps holding more than a cap; True: save anyway.

    Cancel has the focus, so Enter does not tighten a cap by accident.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", _("Cancel"), id="over-cap.cancel",
                tooltip=_("Change nothing and go back to the rules")),
    ]

    def __init__(self, over: list[OverCap]) -> None:
        super().__init__()
        self.over = over

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(_("This change puts reps over a cap"), id="over-cap-title", markup=False)
            yield Static(self.details(), id="over-cap-reps", markup=False)
            yield Static(_("They keep what they hold but may claim or lock no more until they "
                           "are under it. Save anyway?"), id="over-cap-note", markup=False)
            with Horizontal():
                yield Button(_("Save anyway"), variant="warning", id="over-cap-yes")
                yield Button(_("Cancel"), variant="primary", id="over-cap-no")

    def details(self) -> Text:
        """One line per rep: who, the cap, and how many they hold."""
        lines = []
        for item in self.over:
            template = (_("{name} ({login}) owns {holds}; {rule} would be {cap}")
                        if item.rule == "private_cap" else
                        _("{name} ({login}) has {holds} locked; {rule} would be {cap}"))
            lines.append(template.format(name=printable(item.name), login=printable(item.login),
                                         holds=item.holds, rule=item.rule, cap=item.cap))
        return Text("\n".join(lines))

    def on_mount(self) -> None:
        self.query_one("#over-cap-no", Button).focus()

    def action_cancel(self) -> None:
        self.dismiss(False)

    @on(Button.Pressed, "#over-cap-yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#over-cap-no")
    def _no(self) -> None:
        self.dismiss(False)
