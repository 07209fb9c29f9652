"""The customer's dialogs: a new customer, an edit of one, "changed by X at T" when an edit
meets someone else's, and merging customers into one.

The store validates and checks duplicates; the forms show what it says: a field's message beside
that field, "already exists, owned by X" above the buttons. Where the store says forcing would
be allowed (``AlreadyExists.force_allowed``: the match is your own or in the open sea, or you
are an admin), the new-customer form offers "Add anyway", and where it says you may merge into
the match (``merge_allowed``), "Add and merge into #N"; the form decides neither. A refused save
keeps every typed value. An edit saves its fields and its tags in one store call (one
transaction), with the version it was read at, so it never overwrites another change silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Select, Static

from crm_tui.i18n import _
from crm_tui.present.format import short_datetime
from crm_tui.present.textsafe import printable
from crm_tui.tui.dialogs.form import FormDialog
from crm_tui.tui.screens.base import CrmModal

if TYPE_CHECKING:
    from crm_tui.store.records import CustomerRecord, MergeResult

FIELDS = (
    ("name", _("Name")),
    ("company", _("Company")),
    ("phone", _("Phone")),
    ("email", _("Email")),
    ("industry", _("Industry")),
    ("region", _("Region")),
    ("source", _("Source")),
    ("kind", _("Kind")),
)
"""The new-customer form's fields."""

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
    ("kind", _("Kind")),
    ("tags", _("Tags")),
    ("notes", _("Notes")),
)
"""The edit form's fields."""


def kind_select(value: str) -> Select[str]:
    """The Kind field: company or person."""
    from crm_tui.store.domain import CUSTOMER_KINDS

    return Select([(_(k), k) for k in CUSTOMER_KINDS], value=value, allow_blank=False,
                  id="field-kind")


@dataclass(frozen=True)
class NewCustomer:
    """One save of the new-customer form, as the worker hands it to the store."""

    fields: dict[str, Any]
    pool: bool
    force: bool = False
    """Add the look-alike the store refused (only offered where the store allows it)."""
    merge_into: int | None = None
    """Then merge it into this customer (the match the store named)."""


class CustomerFormScreen(FormDialog[int]):
    """A new customer; dismisses with its id (or the id it was merged into), or None."""

    FORM_TITLE = _("New customer")
    FORM_FIELDS = FIELDS

    def __init__(self, initial: dict[str, Any] | None = None) -> None:
        super().__init__(initial)
        self._kind_guess: str | None = "company"
        """The Kind the form last guessed from the name; None once the user chose one."""
        self.force = False
        self.merge_into: int | None = None
        self.match_id: int | None = None

    def field_widget(self, key: str) -> Widget:
        if key == "kind":
            return kind_select(self.initial.get("kind") or "company")
        return super().field_widget(key)

    @on(Input.Changed, "#field-name")
    def _guess_kind(self, event: Input.Changed) -> None:
        """Kind follows the name (张三丰: person; 华为技术有限公司: company) until the user
        picks one; the guess is the store's (``domain.guess_kind``)."""
        if self._kind_guess is None:
            return
        from crm_tui.store.domain import guess_kind

        guess = guess_kind(event.value)
        if guess != self._kind_guess:
            self._kind_guess = guess
            with self.prevent(Select.Changed):  # a guess, not the user's choice
                self.set_field("kind", guess)

    @on(Select.Changed, "#field-kind")
    def _kind_chosen(self, event: Select.Changed) -> None:
        if event.value != self._kind_guess:  # the Select also reports its first value
            self._kind_guess = None  # chosen by hand: the name no longer changes it

    def compose_after_fields(self) -> ComposeResult:
        yield Checkbox(_("Put it in the open sea (no owner)"), id="field-pool")
        with Horizontal(id="duplicate-actions", classes="form-buttons"):
            yield Button(_("Add anyway"), id="add-anyway", variant="warning")
            yield Button(_("Add and merge"), id="add-merge")

    def on_mount(self) -> None:
        super().on_mount()
        self._offer(force=False, merge=False)

    def _offer(self, *, force: bool, merge: bool) -> None:
        self.query_one("#add-anyway", Button).display = force
        self.query_one("#add-merge", Button).display = merge
        self.query_one("#duplicate-actions").display = force or merge

    def submission(self, values: dict[str, Any]) -> NewCustomer:
        fields = dict(values)
        pool = bool(fields.pop("pool", False))
        submission = NewCustomer(fields, pool, self.force, self.merge_into)
        self.force, self.merge_into = False, None
        return submission

    def submit(self, submission: NewCustomer) -> CustomerRecord:
        record = self.store.add_customer(self.me, submission.fields, pool=submission.pool,
                                         force=submission.force)
        if submission.merge_into is None:
            return record
        return self.store.merge_customers(self.me, submission.merge_into, [record.id]).kept

    def saved(self, result: CustomerRecord) -> None:
        self.app.notify(_("Added {name} (#{id}).").format(name=result.name, id=result.id),
                        markup=False)
        self.dismiss(result.id)

    def show_error(self, error: Exception) -> None:
        from crm_tui.store.errors import AlreadyExists

        super().show_error(error)
        if isinstance(error, AlreadyExists):
            self.match_id = error.customer_id
            merge = bool(error.force_allowed and error.merge_allowed and error.customer_id)
            if merge:
                self.query_one("#add-merge", Button).label = _(
                    "Add and merge into #{id}").format(id=error.customer_id)
            self._offer(force=error.force_allowed, merge=merge)
        else:
            self._offer(force=False, merge=False)

    @on(Button.Pressed, "#add-anyway")
    def action_add_anyway(self) -> None:
        self.force = True
        self._offer(force=False, merge=False)
        self.action_save()

    @on(Button.Pressed, "#add-merge")
    def action_add_and_merge(self) -> None:
        self.force, self.merge_into = True, self.match_id
        self._offer(force=False, merge=False)
        self.action_save()


class MergeScreen(FormDialog["MergeResult"]):
    """Merge customers into ``keep_id`` (from the portrait): their ids typed, or given."""

    FORM_FIELDS = (("others", _("Merge in (ids)")),)

    def __init__(self, keep_id: int, keep_name: str) -> None:
        super().__init__()
        self.keep_id = keep_id
        self.keep_name = keep_name

    def form_title(self) -> str:
        return _("Merge into #{id} {name}").format(id=self.keep_id, name=printable(self.keep_name))

    def compose_after_fields(self) -> ComposeResult:
        yield Static(_("Their contacts, follow-ups, deals, tags and history move to #{id}, its "
                       "empty fields are filled from them, and each is then found as "
                       "\"merged into #{id}\".").format(id=self.keep_id),
                     id="merge-note", markup=False)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#save", Button).label = _("Merge")

    def submission(self, values: dict[str, Any]) -> list[int] | str:
        text = str(values.get("others") or "").replace(",", " ").replace("#", " ")
        words = text.split()
        if not words or not all(word.isdecimal() and word.isascii() for word in words):
            return text
        return [int(word) for word in words]

    def submit(self, submission: list[int] | str) -> MergeResult:
        from crm_tui.store.errors import ValidationError

        if isinstance(submission, str):
            raise ValidationError("others", _("type the ids of the customers to merge in"))
        return self.store.merge_customers(self.me, self.keep_id, submission)

    def saved(self, result: MergeResult) -> None:
        merged = ", ".join(f"#{cid}" for cid in result.merged_ids)
        self.app.notify(_("Merged {merged} into #{id}.").format(merged=merged, id=result.kept.id),
                        markup=False)
        self.dismiss(result)


class ConflictScreen(CrmModal[str]):
    """"Changed by X at T": reload theirs, keep mine (save over it deliberately) or cancel."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "choose('reload')", _("Reload"), id="conflict.reload",
                tooltip=_("Discard my changes and show theirs")),
        Binding("k", "choose('keep')", _("Keep mine"), id="conflict.keep",
                tooltip=_("Save my changes over theirs")),
        Binding("escape", "choose('cancel')", _("Cancel"), id="conflict.cancel",
                tooltip=_("Back to the form, nothing saved")),
    ]

    def __init__(self, changed_by: str | None, changed_at: datetime | None) -> None:
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


@dataclass(frozen=True)
class CustomerEdit:
    """One save of the edit form, as the worker hands it to the store."""

    changes: dict[str, Any]
    """The fields that differ from what the form opened with."""
    tags: str
    """The tags as typed (the store parses them)."""
    version: int
    """The version the form was read at (or reloaded to)."""


class EditCustomerScreen(FormDialog["CustomerRecord"]):
    """Edit a customer; saves with the version it was read at and never overwrites silently."""

    FORM_FIELDS = CUSTOMER_FIELDS
    ERROR_FIELDS: ClassVar[dict[str, str]] = {"tag": "tags"}

    class Reloaded(Message):
        """The customer as saved now; ``keep_mine``: save the form over it."""

        def __init__(self, record: CustomerRecord, keep_mine: bool) -> None:
            super().__init__()
            self.record = record
            self.keep_mine = keep_mine

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
        if key == "kind":
            return kind_select(self.initial.get("kind") or "company")
        if key == "status":
            from crm_tui.store.domain import STATUSES

            return Select([(_(s), s) for s in STATUSES], value=self.initial.get("status") or "lead",
                          allow_blank=False, id="field-status")
        return super().field_widget(key)

    def submission(self, values: dict[str, Any]) -> CustomerEdit:
        changes = {
            key: value for key, value in values.items()
            if key != "tags" and (value or None) != (self.initial.get(key) or None)
        }
        return CustomerEdit(changes, str(values.get("tags") or ""), self.version)

    def submit(self, submission: CustomerEdit) -> CustomerRecord:
        return self.store.update_customer(self.me, self.customer_id, submission.changes,
                                          expected_version=submission.version,
                                          tags=submission.tags)

    def show_error(self, error: Exception) -> None:
        from crm_tui.store.errors import Conflict

        if isinstance(error, Conflict):
            changed_at = error.changed_at if isinstance(error.changed_at, datetime) else None
            self.query_one("#save", Button).disabled = False
            self.form_message(_("Changed by {who} at {when}.").format(
                who=error.changed_by or _("someone"),
                when=short_datetime(changed_at) if changed_at else "?"))
            self.app.push_screen(ConflictScreen(error.changed_by, changed_at),
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
        self.post_message(self.Reloaded(self.store.get_customer(self.customer_id, self.me),
                                        keep_mine))

    @on(Reloaded)
    def _reloaded(self, event: Reloaded) -> None:
        self.version = event.record.version
        if event.keep_mine:
            self.action_save()
            return
        self.initial = self._initial(event.record)
        for key, _title in self.FORM_FIELDS:
            value = self.initial.get(key)
            default = {"status": "lead", "kind": "company"}.get(key)
            self.set_field(key, (value or default) if default else value)
        self.clear_errors()
        self.form_message(_("Reloaded: these are the saved values."))
