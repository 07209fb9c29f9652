"""The form dialog every crm form is: fields in a grid, Save and Cancel, the store's refusal shown
where it belongs.

A subclass names its fields (``FORM_FIELDS``), may give a field another widget
(``field_widget``) or add widgets after the grid (``compose_after_fields``; an id
``field-<key>`` makes it a value of the form too), and says what saving does (``submit``). The
same keys everywhere: ``ctrl+s`` (or Enter in a field) saves, ``Esc`` cancels.

Threading: the form's values are read on the UI thread (``typed_fields``, then ``submission``)
and handed to a thread worker, which asks the store (``submit``) and posts the outcome; the
store decides (the form re-checks no rule). A refused save keeps everything typed: a field's
message appears beside that field, anything else above the buttons.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select, Static
from textual.worker import Worker, WorkerState
from typing_extensions import TypeVar

from crm_tui.i18n import _
from crm_tui.tui.screens.base import CrmModal

SavedType = TypeVar("SavedType", default=Any)
"""What a saved form is dismissed with (by default what the store returned)."""

FIELD_PREFIX = "field-"


class FormDialog(CrmModal[SavedType | None]):
    """A form over ``FORM_FIELDS``; dismisses with what the store returned, or None on cancel."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", _("Cancel"), id="form.cancel", tooltip=_("Close without saving")),
        Binding("ctrl+s", "save", _("Save"), id="form.save", tooltip=_("Save the form")),
    ]

    FORM_TITLE: ClassVar[str] = ""
    FORM_FIELDS: ClassVar[tuple[tuple[str, str], ...]] = ()
    """``(key, title)`` of each field in the grid, in order."""
    ERROR_FIELDS: ClassVar[dict[str, str]] = {}
    """The store's ``ValidationError.field`` names that differ from the form's keys."""
    FIRST_FIELD: ClassVar[str | None] = None
    """The field focused when the form opens (default: the first)."""

    class Done(Message):
        """The store accepted the save; ``result`` is what it returned."""

        def __init__(self, result: Any) -> None:
            super().__init__()
            self.result = result

    class Failed(Message):
        """The store refused the save (a ``CrmError``)."""

        def __init__(self, error: Exception) -> None:
            super().__init__()
            self.error = error

    def __init__(self, initial: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.initial = dict(initial or {})
        """The values the fields open with."""

    # --- layout -------------------------------------------------------------------------------

    def form_title(self) -> str:
        return self.FORM_TITLE

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.form_title(), classes="form-title", markup=False)
            with Grid():
                for key, title in self.FORM_FIELDS:
                    yield Label(title)
                    with Vertical(classes="field"):
                        yield self.field_widget(key)
                        yield Static("", id=f"error-{key}", classes="field-error", markup=False)
            yield from self.compose_after_fields()
            yield Static("", id="form-error", markup=False)
            with Horizontal(classes="form-buttons"):
                yield Button(_("Cancel"), id="cancel")
                yield Button(_("Save"), id="save", variant="primary")

    def field_widget(self, key: str) -> Widget:
        """The widget for field ``key`` (an ``Input`` holding its initial value unless overridden)."""
        value = self.initial.get(key)
        return Input(value="" if value is None else str(value), id=f"{FIELD_PREFIX}{key}")

    def compose_after_fields(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        blink = getattr(self.app, "cursor_blink", True)
        for widget in self.query(Input):
            widget.cursor_blink = blink
        first = self.FIRST_FIELD or (self.FORM_FIELDS[0][0] if self.FORM_FIELDS else None)
        if first:
            self.query_one(f"#{FIELD_PREFIX}{first}").focus()

    # --- values and errors --------------------------------------------------------------------

    def typed_fields(self) -> dict[str, Any]:
        """Every field's value by key, read from the widgets (on the UI thread): an ``Input``'s
        text, a ``Select``'s choice (None when blank), a ``Checkbox``'s flag."""
        values: dict[str, Any] = {}
        for widget in self.query("Input, Select, Checkbox"):
            if not (widget.id or "").startswith(FIELD_PREFIX):
                continue
            key = (widget.id or "").removeprefix(FIELD_PREFIX)
            if isinstance(widget, Select):
                values[key] = None if widget.value is Select.NULL else widget.value
            elif isinstance(widget, (Input, Checkbox)):
                values[key] = widget.value
        return values

    def set_field(self, key: str, value: Any) -> None:
        """Put ``value`` into the field ``key`` (None empties an ``Input``)."""
        widget = self.query_one(f"#{FIELD_PREFIX}{key}")
        if isinstance(widget, Input):
            widget.value = "" if value is None else str(value)
        elif isinstance(widget, (Select, Checkbox)):
            widget.value = value

    def clear_errors(self) -> None:
        for key, _title in self.FORM_FIELDS:
            message = self.query_one(f"#error-{key}", Static)
            message.update("")
            message.remove_class("-shown")
        self.query_one("#form-error", Static).update("")

    def field_message(self, key: str, message: str) -> None:
        """Show ``message`` under the field ``key``."""
        widget = self.query_one(f"#error-{key}", Static)
        widget.update(message)
        widget.add_class("-shown")
        self.call_after_refresh(widget.scroll_visible, animate=False)

    def form_message(self, message: str) -> None:
        """Show ``message`` above the buttons (scrolled into view: on a low terminal the form
        scrolls, and a refusal below the edge would say nothing)."""
        widget = self.query_one("#form-error", Static)
        widget.update(message)
        self.call_after_refresh(widget.scroll_visible, animate=False)

    def show_error(self, error: Exception) -> None:
        """A field's message beside the field; anything else above the buttons."""
        from crm_tui.store.errors import DatabaseUnavailable, ValidationError

        self.query_one("#save", Button).disabled = False
        if isinstance(error, DatabaseUnavailable):
            self.crm_app.connection_lost(error)  # the banner, and its retries
        if isinstance(error, ValidationError):
            key = self.ERROR_FIELDS.get(error.field, error.field)
            if self.query(f"#error-{key}"):
                self.field_message(key, error.message)
                self.query_one(f"#{FIELD_PREFIX}{key}").focus()
                return
        self.form_message(str(error))

    # --- saving -------------------------------------------------------------------------------

    @on(Button.Pressed, "#save")
    @on(Input.Submitted)
    def _save_requested(self, event: Message) -> None:
        event.stop()
        self.action_save()

    def action_save(self) -> None:
        self.clear_errors()
        self.query_one("#save", Button).disabled = True
        self.save_in_thread(self.submission(self.typed_fields()))

    def submission(self, values: dict[str, Any]) -> Any:
        """What the worker hands to ``submit``, built on the UI thread from the form's values
        (and whatever else of the dialog's state the save needs)."""
        return values

    @work(thread=True, exclusive=True, exit_on_error=False, group="form-save")
    def save_in_thread(self, submission: Any) -> None:
        from crm_tui.store.errors import CrmError

        try:
            result = self.submit(submission)
        except CrmError as exc:
            self.post_message(self.Failed(exc))
            return
        self.post_message(self.Done(result))

    def submit(self, submission: Any) -> Any:
        """Ask the store to save (runs in a worker thread, touches no widget); returns its answer."""
        raise NotImplementedError

    @on(Done)
    def _done(self, event: Done) -> None:
        self.saved(event.result)

    def saved(self, result: Any) -> None:
        """The store accepted the save (``result``: ``submit``'s answer): close with it."""
        self.dismiss(result)

    @on(Failed)
    def _failed(self, event: Failed) -> None:
        self.show_error(event.error)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Worker.StateChanged)
    def _save_failed(self, event: Worker.StateChanged) -> None:
        # A save that crashed (not a refusal) leaves the form usable; CrmModal reports the crash.
        if event.state == WorkerState.ERROR:
            self.query_one("#save", Button).disabled = False
