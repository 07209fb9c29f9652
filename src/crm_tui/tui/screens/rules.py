"""The rules screen: view the open-sea rules (and the other team settings) and, as a manager,
change them.

The store validates and applies (``Store.set_rules``: all values or none, each change audited);
this screen only sends the text typed, and shows the store's sentence when a value is refused,
naming the setting. Reps see the rules read-only.
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
from crm_tui.tui.screens.base import CrmModal


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
                tooltip=_("Save the changed rules (managers and admins)")),
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
        return bool(me is not None and me.is_manager)

    def compose(self) -> ComposeResult:
        from crm_tui.store.team.settings import RULES

        with Vertical():
            yield Static(_("Open-sea rules and team settings"), id="rules-title", markup=False)
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
            note.update(Text(_("Only a manager or an admin may change the rules.")))
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
    def save(self, changes: dict[str, Any]) -> None:
        try:
            values = self.store.set_rules(self.me, changes)
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
            self.notify(_("Only a manager or an admin may change the rules."), severity="warning",
                        markup=False)
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
