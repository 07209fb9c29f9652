"""The portrait's dialogs: edit customer, contact, log follow-up, new deal, move stage, release,
and the "changed by X at T" conflict dialog.

Every form is the new-customer form (``screens/customer_form.py``) with other fields: the same
layout and CSS, the same keys (``ctrl+s`` save, ``Esc`` cancel), the same "message beside the
field" display. ``FormDialog`` swaps the field list and what saving does; saving runs in a thread
worker and the store decides (the form re-checks no rule). A refused save keeps everything typed.

``CustomerFormScreen`` handles ``Mount``, ``Input.Submitted`` and the Save button itself; the
handlers here call ``prevent_default()`` so only this class's version runs for those events.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from crm_tui.i18n import _
from crm_tui.present.format import short_datetime
from crm_tui.present.textsafe import printable
from crm_tui.tui.dialogs.customer_form import CustomerFormScreen

if TYPE_CHECKING:
    from crm_tui.store import CustomerRecord
    from crm_tui.store.records import ContactRecord, DealRecord

QUICK_NEXT = (("+1d", 1), ("+3d", 3), ("+1w", 7), ("+2w", 14))


class FormDialog(CustomerFormScreen):
    """A dialog shaped like the new-customer form over ``FORM_FIELDS``; dismisses with the result."""

    DEFAULT_CSS = """
    FormDialog > Vertical { overflow-y: auto; }
    FormDialog #quick-next { height: auto; align-horizontal: left; padding: 0 0 1 10; }
    FormDialog #quick-next Label { padding: 0 1 0 0; }
    FormDialog #quick-next Button { min-width: 0; width: auto; margin: 0 1 0 0; }
    """

    FORM_TITLE = ""
    FORM_FIELDS: ClassVar[tuple[tuple[str, str], ...]] = ()
    ERROR_FIELDS: ClassVar[dict[str, str]] = {}
    """The store's ``ValidationError.field`` names that differ from the form's keys."""

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
            with Horizontal():
                yield Button(_("Cancel"), id="cancel")
                yield Button(_("Save"), id="save", variant="primary")

    def field_widget(self, key: str) -> Widget:
        value = self.initial.get(key)
        return Input(value="" if value is None else str(value), id=f"field-{key}")

    def compose_after_fields(self) -> ComposeResult:
        yield from ()

    def on_mount(self, event: events.Mount) -> None:
        event.prevent_default()  # CustomerFormScreen's on_mount focuses fields this form lacks
        for widget in self.query(Input):
            widget.cursor_blink = getattr(self.app, "cursor_blink", True)
        first = self.FORM_FIELDS[0][0] if self.FORM_FIELDS else None
        if first:
            self.query_one(f"#field-{first}").focus()

    # --- values and errors --------------------------------------------------------------------

    def typed_fields(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, _title in self.FORM_FIELDS:
            widget = self.query_one(f"#field-{key}")
            if isinstance(widget, Select):
                values[key] = None if widget.value is Select.NULL else widget.value
            elif isinstance(widget, Checkbox):
                values[key] = widget.value
            else:
                values[key] = widget.value  # type: ignore[attr-defined]
        return values

    def _clear_errors(self) -> None:
        for key, _title in self.FORM_FIELDS:
            self.query_one(f"#error-{key}", Static).update("")
            self.query_one(f"#error-{key}", Static).remove_class("-shown")
        self.query_one("#form-error", Static).update("")

    def field_message(self, key: str, message: str) -> None:
        """Show ``message`` under the field ``key``."""
        widget = self.query_one(f"#error-{key}", Static)
        widget.update(message)
        widget.add_class("-shown")

    def show_error(self, error: Exception) -> None:
        """A field's message beside the field; anything else above the buttons."""
        from crm_tui.store.errors import DatabaseUnavailable, ValidationError

        self.query_one("#save", Button).disabled = False
        if isinstance(error, DatabaseUnavailable):
            self.app.connection_lost(error)  # type: ignore[attr-defined] - banner, retries
        if isinstance(error, ValidationError):
            key = self.ERROR_FIELDS.get(error.field, error.field)
            if self.query(f"#error-{key}"):
                self.field_message(key, error.message)
                self.query_one(f"#field-{key}").focus()
                return
        self.query_one("#form-error", Static).update(str(error))

    # --- saving -------------------------------------------------------------------------------

    @on(Button.Pressed, "#save")
    @on(Input.Submitted)
    def _save_requested(self, event: Message) -> None:
        event.prevent_default()  # not CustomerFormScreen's save: it adds a customer
        event.stop()
        self.action_save()

    def action_save(self) -> None:
        self._clear_errors()
        self.query_one("#save", Button).disabled = True
        self.save_in_thread(self.typed_fields())

    @work(thread=True, exclusive=True, exit_on_error=False, group="form-save")
    def save_in_thread(self, fields: dict[str, Any]) -> None:
        from crm_tui.store.errors import CrmError

        try:
            result = self.submit(fields)
        except CrmError as exc:
            self.post_message(self.Failed(exc))
            return
        self.post_message(self.Done(result))

    def submit(self, fields: dict[str, Any]) -> Any:
        """Ask the store to save ``fields`` (runs in a worker thread); returns the result."""
        raise NotImplementedError

    @on(Done)
    def _done(self, event: Done) -> None:
        self.dismiss(event.result)

    @on(Failed)
    def _failed(self, event: Failed) -> None:
        self.show_error(event.error)

    @property
    def store(self) -> Any:
        return self.app.store  # type: ignore[attr-defined]

    @property
    def me(self) -> Any:
        return self.app.me  # type: ignore[attr-defined]


# --- the customer -------------------------------------------------------------------------------


class ConflictScreen(ModalScreen[str]):
    """"Changed by X at T": reload theirs, keep mine (save over it deliberately) or cancel."""

    DEFAULT_CSS = """
    ConflictScreen { align: center middle; }
    ConflictScreen > Vertical {
        width: 70; height: auto; padding: 1 2; border: thick $error; background: $surface;
    }
    ConflictScreen #conflict-message { padding: 0 0 1 0; }
    ConflictScreen Horizontal { height: auto; align-horizontal: right; }
    ConflictScreen Button { margin-left: 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "choose('reload')", _("Reload"), id="conflict.reload",
                tooltip=_("Discard my changes and show theirs")),
        Binding("k", "choose('keep')", _("Keep mine"), id="conflict.keep",
                tooltip=_("Save my changes over theirs")),
        Binding("escape", "choose('cancel')", _("Cancel"), id="conflict.cancel",
                tooltip=_("Back to the form, nothing saved")),
    ]

    def __init__(self, changed_by: str | None, changed_at: Any) -> None:
        super().__init__()
        self.changed_by = changed_by
        self.changed_at = changed_at

    def compose(self) -> ComposeResult:
        when = short_datetime(self.changed_at) if self.changed_at else "?"
        who = printable(self.changed_by or _("someone"))
        with Vertical():
            yield Static(
                _("This customer was changed by {who} at {when} while you were editing it. "
                  "Nothing was saved.").format(who=who, when=when),
                id="conflict-message", markup=False,
            )
            with Horizontal():
                yield Button(_("Reload (r)"), id="reload")
                yield Button(_("Keep mine (k)"), id="keep", variant="warning")
                yield Button(_("Cancel (Esc)"), id="cancel")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_choose(event.button.id or "cancel")

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)


CUSTOMER_FIELDS = (
    ("name", _("Name")),
    ("company", _("Company")),
    ("phone", _("Phone")),
    ("email", _("Email")),
    ("industry", _("Industry")),
    ("region", _("Region")),
    ("address", _("Address")),
    ("source", _("Source")),
    ("status", _("Status")),
    ("tags", _("Tags")),
    ("notes", _("Notes")),
)


class EditCustomerScreen(FormDialog):
    """Edit a customer; saves with the version it was read at and never overwrites silently."""

    DEFAULT_CSS = """
    EditCustomerScreen > Vertical { width: 110; }
    EditCustomerScreen Grid { grid-size: 4; grid-columns: 9 1fr 9 1fr; }
    """

    FORM_FIELDS = CUSTOMER_FIELDS

    class Reloaded(Message):
        def __init__(self, record: CustomerRecord) -> None:
            super().__init__()
            self.record = record

    def __init__(self, record: CustomerRecord) -> None:
        super().__init__(self._initial(record))
        self.customer_id = record.id
        self.version = record.version

    @staticmethod
    def _initial(record: CustomerRecord) -> dict[str, Any]:
        initial = {key: getattr(record, key, None) for key, _title in CUSTOMER_FIELDS}
        initial["tags"] = ", ".join(record.tags)
        return initial

    def form_title(self) -> str:
        return _("Edit {name} (#{id})").format(name=printable(self.initial["name"]), id=self.customer_id)

    def field_widget(self, key: str) -> Widget:
        if key == "status":
            from crm_tui.store.domain import STATUSES

            return Select([(_(s), s) for s in STATUSES], value=self.initial.get("status") or "lead",
                          allow_blank=False, id="field-status")
        return super().field_widget(key)

    def submit(self, fields: dict[str, Any]) -> Any:
        changes = {
            key: value for key, value in fields.items()
            if key != "tags" and (value or None) != (self.initial.get(key) or None)
        }
        record = self.store.update_customer(self.me, self.customer_id, changes,
                                            expected_version=self.version)
        tags = [t.strip() for t in str(fields.get("tags") or "").replace("，", ",").split(",")]
        tags = [t for t in tags if t]
        if tags != [t.strip() for t in str(self.initial.get("tags") or "").split(",") if t.strip()]:
            record = self.store.set_tags(self.me, self.customer_id, tags)
        return record

    def show_error(self, error: Exception) -> None:
        from crm_tui.store.errors import Conflict

        if isinstance(error, Conflict):
            self.query_one("#save", Button).disabled = False
            self.query_one("#form-error", Static).update(
                _("Changed by {who} at {when}.").format(
                    who=error.changed_by or _("someone"),
                    when=short_datetime(error.changed_at) if error.changed_at else "?"))
            self.app.push_screen(ConflictScreen(error.changed_by, error.changed_at),
                                 self._conflict_resolved)
            return
        super().show_error(error)

    def _conflict_resolved(self, choice: str | None) -> None:
        if choice == "reload":
            self.reload(keep_mine=False)
        elif choice == "keep":
            self.reload(keep_mine=True)

    @work(thread=True, exclusive=True, exit_on_error=False, group="form-reload")
    def reload(self, keep_mine: bool) -> None:
        record = self.store.get_customer(self.customer_id, self.me)
        if keep_mine:
            self.version = record.version
            self.app.call_from_thread(self.action_save)
        else:
            self.post_message(self.Reloaded(record))

    @on(Reloaded)
    def _reloaded(self, event: Reloaded) -> None:
        self.version = event.record.version
        self.initial = self._initial(event.record)
        for key, _title in self.FORM_FIELDS:
            widget = self.query_one(f"#field-{key}")
            value = self.initial.get(key)
            if isinstance(widget, Select):
                widget.value = value or "lead"
            else:
                widget.value = "" if value is None else str(value)  # type: ignore[attr-defined]
        self._clear_errors()
        self.query_one("#form-error", Static).update(_("Reloaded: these are the saved values."))


# --- contacts -------------------------------------------------------------------------------------


class ContactFormScreen(FormDialog):
    """Add a contact to a customer, or edit one."""

    FORM_FIELDS = (
        ("name", _("Name")),
        ("title", _("Title")),
        ("phone", _("Phone")),
        ("email", _("Email")),
        ("wechat", _("WeChat")),
    )
    ERROR_FIELDS: ClassVar[dict[str, str]] = {
        "contact name": "name", "contact phone": "phone", "contact email": "email",
    }

    def __init__(self, customer_id: int, contact: ContactRecord | None = None) -> None:
        initial = {}
        if contact is not None:
            initial = {k: getattr(contact, k) for k in ("name", "title", "phone", "email", "wechat")}
        super().__init__(initial)
        self.customer_id = customer_id
        self.contact = contact

    def form_title(self) -> str:
        return _("New contact") if self.contact is None else _("Edit contact")

    def compose_after_fields(self) -> ComposeResult:
        primary = bool(self.contact and self.contact.is_primary)
        yield Checkbox(_("Primary contact"), value=primary, id="field-primary")

    def submit(self, fields: dict[str, Any]) -> Any:
        fields = dict(fields, is_primary=self.query_one("#field-primary", Checkbox).value)
        if self.contact is None:
            return self.store.add_contact(self.me, self.customer_id, fields)
        return self.store.update_contact(self.me, self.contact.id, fields)


# --- follow-ups -----------------------------------------------------------------------------------


class FollowUpFormScreen(FormDialog):
    """Log a follow-up: channel, summary, and the next date (quick choices or typed)."""

    FORM_FIELDS = (
        ("channel", _("Channel")),
        ("summary", _("Summary")),
        ("next", _("Next")),
    )

    def __init__(self, customer_id: int, customer_name: str, today: date) -> None:
        super().__init__({"channel": "call"})
        self.customer_id = customer_id
        self.customer_name = customer_name
        self.today = today

    def form_title(self) -> str:
        return _("Log a follow-up: {name}").format(name=printable(self.customer_name))

    def field_widget(self, key: str) -> Widget:
        if key == "channel":
            from crm_tui.store.domain import CHANNELS

            return Select([(_(c), c) for c in CHANNELS], value="call", allow_blank=False,
                          id="field-channel")
        if key == "next":
            return Input(placeholder=_("YYYY-MM-DD, +3d, or empty"), id="field-next")
        return super().field_widget(key)

    def compose_after_fields(self) -> ComposeResult:
        with Horizontal(id="quick-next"):
            yield Label(_("Next in:"))
            for label, _days in QUICK_NEXT:
                yield Button(label, id=f"next-{label.strip('+')}", compact=True)
            yield Button(_("none"), id="next-none", compact=True)

    def on_mount(self, event: events.Mount) -> None:
        super().on_mount(event)
        self.query_one("#field-summary").focus()

    @on(Button.Pressed, "#quick-next Button")
    def _quick_next(self, event: Button.Pressed) -> None:
        event.stop()
        days = dict((label.strip("+"), n) for label, n in QUICK_NEXT).get(
            (event.button.id or "").removeprefix("next-"))
        value = "" if days is None else (self.today + timedelta(days=days)).isoformat()
        self.query_one("#field-next", Input).value = value

    def submit(self, fields: dict[str, Any]) -> Any:
        return self.store.log_follow_up(self.me, self.customer_id, fields["summary"],
                                        channel=fields["channel"], next_at=fields["next"] or None)


# --- deals ----------------------------------------------------------------------------------------


class DealFormScreen(FormDialog):
    """A new deal: title, amount, stage, expected close."""

    FORM_FIELDS = (
        ("title", _("Title")),
        ("amount", _("Amount")),
        ("stage", _("Stage")),
        ("expected_close", _("Close by")),
    )

    def __init__(self, customer_id: int, customer_name: str) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.customer_name = customer_name

    def form_title(self) -> str:
        return _("New deal: {name}").format(name=printable(self.customer_name))

    def field_widget(self, key: str) -> Widget:
        if key == "stage":
            from crm_tui.store.domain import STAGE_PROBABILITY, STAGES

            options = [
                (f"{_(s)} ({int(STAGE_PROBABILITY[s] * 100)} %)" if s not in ("won", "lost") else _(s), s)
                for s in STAGES
            ]
            return Select(options, value="prospecting", allow_blank=False, id="field-stage")
        if key == "expected_close":
            return Input(placeholder=_("YYYY-MM-DD or +30d"), id="field-expected_close")
        return super().field_widget(key)

    def submit(self, fields: dict[str, Any]) -> Any:
        return self.store.add_deal(self.me, self.customer_id, fields["title"], fields["amount"],
                                   stage=fields["stage"], expected_close=fields["expected_close"] or None)


class MoveStageScreen(FormDialog):
    """Move one of the customer's deals to another stage (won and lost close it)."""

    FORM_FIELDS = (("deal", _("Deal")), ("stage", _("Stage")))

    def __init__(self, deals: list[DealRecord]) -> None:
        super().__init__()
        self.deals = deals

    def form_title(self) -> str:
        return _("Move a deal")

    def field_widget(self, key: str) -> Widget:
        from crm_tui.present.format import money

        if key == "deal":
            options = [(f"#{d.id} {printable(d.title)} · {_(d.stage)} · {money(d.amount)}", d.id)
                       for d in self.deals]
            first = next((d.id for d in self.deals if d.stage not in ("won", "lost")), self.deals[0].id)
            return Select(options, value=first, allow_blank=False, id="field-deal")
        from crm_tui.store.domain import STAGES

        return Select([(_(s), s) for s in STAGES], value="won", allow_blank=False, id="field-stage")

    def submit(self, fields: dict[str, Any]) -> Any:
        return self.store.move_deal(self.me, int(fields["deal"]), fields["stage"])


# --- release ------------------------------------------------------------------------------------


class ReleaseFormScreen(FormDialog):
    """Release a customer to the open sea with a reason from the pick-list or in your words."""

    FORM_FIELDS = (("choice", _("Reason")), ("reason", _("In words")))

    def __init__(self, customer_id: int, customer_name: str, reasons: list[str]) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.customer_name = customer_name
        self.reasons = reasons

    def form_title(self) -> str:
        return _("Release {name} to the open sea").format(name=printable(self.customer_name))

    def field_widget(self, key: str) -> Widget:
        if key == "choice":
            return Select([(printable(r), r) for r in self.reasons], id="field-choice",
                          prompt=_("pick a reason"))
        return super().field_widget(key)

    def submit(self, fields: dict[str, Any]) -> Any:
        parts = [p for p in (fields.get("choice"), (fields.get("reason") or "").strip()) if p]
        reason = ": ".join(parts) if parts else None
        return self.store.release(self.me, self.customer_id, reason)

    def show_error(self, error: Exception) -> None:
        if getattr(error, "rule", None) == "require_release_reason":
            self.query_one("#save", Button).disabled = False
            self.field_message("choice", str(error))
            return
        super().show_error(error)
