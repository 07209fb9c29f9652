"""The customer form as a dialog: a new customer now (editing will reuse it).

The store validates and checks duplicates; the form only shows what it says: a field's message
beside that field, "already exists, owned by X" above the buttons. A refused save keeps every
typed value.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static
from textual.worker import Worker

from crm_tui.i18n import _
from crm_tui.tui.messages import forward_failed_worker

FIELDS = (
    ("name", _("Name")),
    ("company", _("Company")),
    ("phone", _("Phone")),
    ("email", _("Email")),
    ("industry", _("Industry")),
    ("region", _("Region")),
    ("source", _("Source")),
)


class CustomerFormScreen(ModalScreen[int | None]):
    """Dismisses with the new customer's id, or None when cancelled."""

    DEFAULT_CSS = """
    CustomerFormScreen { align: center middle; }
    CustomerFormScreen > Vertical {
        width: 80; height: auto; max-height: 100%; padding: 0 2;
        border: thick $primary; background: $surface;
    }
    CustomerFormScreen .form-title { text-style: bold; padding: 0 0 1 0; }
    CustomerFormScreen Grid { grid-size: 2; grid-columns: 10 1fr; height: auto; grid-gutter: 0; }
    CustomerFormScreen Grid > Label { padding: 1 0 0 0; }
    CustomerFormScreen .field { height: auto; }
    CustomerFormScreen .field-error { color: $text-error; height: auto; padding: 0 1; display: none; }
    CustomerFormScreen .field-error.-shown { display: block; }
    CustomerFormScreen #form-error { color: $text-error; text-style: bold; height: auto; }
    CustomerFormScreen Horizontal { height: auto; align-horizontal: right; }
    CustomerFormScreen Button { margin-left: 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", _("Cancel"), id="form.cancel", tooltip=_("Close without saving")),
        Binding("ctrl+s", "save", _("Save"), id="form.save", tooltip=_("Save the customer")),
    ]

    class Saved(Message):
        def __init__(self, customer_id: int, name: str) -> None:
            super().__init__()
            self.customer_id = customer_id
            self.name = name

    class Refused(Message):
        def __init__(self, error: Exception) -> None:
            super().__init__()
            self.error = error

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(_("New customer"), classes="form-title")
            with Grid():
                for key, title in FIELDS:
                    yield Label(title)
                    with Vertical(classes="field"):
                        yield Input(id=f"field-{key}")
                        yield Static("", id=f"error-{key}", classes="field-error", markup=False)
            yield Checkbox(_("Put it in the open sea (no owner)"), id="field-pool")
            yield Static("", id="form-error", markup=False)
            with Horizontal():
                yield Button(_("Cancel"), id="cancel")
                yield Button(_("Save"), id="save", variant="primary")

    def on_mount(self) -> None:
        for widget in self.query(Input):
            widget.cursor_blink = getattr(self.app, "cursor_blink", True)
        self.query_one("#field-name", Input).focus()

    def typed_fields(self) -> dict[str, str]:
        return {key: self.query_one(f"#field-{key}", Input).value for key, _title in FIELDS}

    def _clear_errors(self) -> None:
        for key, _title in FIELDS:
            self.query_one(f"#error-{key}", Static).update("")
            self.query_one(f"#error-{key}", Static).remove_class("-shown")
        self.query_one("#form-error", Static).update("")

    @on(Button.Pressed, "#save")
    @on(Input.Submitted)
    def action_save(self) -> None:
        self._clear_errors()
        self.query_one("#save", Button).disabled = True
        self.save(self.typed_fields(), self.query_one("#field-pool", Checkbox).value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="customer-form-save")
    def save(self, fields: dict[str, str], pool: bool) -> None:
        from crm_tui.store.errors import CrmError

        app = self.app
        try:
            created = app.store.add_customer(app.me, fields, pool=pool)  # type: ignore[attr-defined]
        except CrmError as exc:
            self.post_message(self.Refused(exc))
            return
        self.post_message(self.Saved(created.id, created.name))

    @on(Saved)
    def _saved(self, event: Saved) -> None:
        self.app.notify(_("Added {name} (#{id}).").format(name=event.name, id=event.customer_id),
                        markup=False)
        self.dismiss(event.customer_id)

    @on(Refused)
    def _refused(self, event: Refused) -> None:
        from crm_tui.store.errors import DatabaseUnavailable, ValidationError

        self.query_one("#save", Button).disabled = False
        error = event.error
        if isinstance(error, DatabaseUnavailable):
            self.app.connection_lost(error)  # type: ignore[attr-defined] - banner, retries
        if isinstance(error, ValidationError) and self.query(f"#error-{error.field}"):
            message = self.query_one(f"#error-{error.field}", Static)
            message.update(error.message)
            message.add_class("-shown")
            self.query_one(f"#field-{error.field}", Input).focus()
        else:
            self.query_one("#form-error", Static).update(str(error))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Worker.StateChanged)
    def _forward_failed_worker(self, event: Worker.StateChanged) -> None:
        if event.state.name == "ERROR":
            self.query_one("#save", Button).disabled = False
        forward_failed_worker(self, event)
