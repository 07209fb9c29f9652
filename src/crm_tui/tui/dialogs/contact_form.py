"""A customer's contact: add one, or edit one (name, title, phone, e-mail, WeChat, primary)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.widgets import Checkbox

from crm_tui.i18n import _
from crm_tui.tui.dialogs.form import FormDialog

if TYPE_CHECKING:
    from crm_tui.store.records import ContactRecord

CONTACT_FIELDS = (
    ("name", _("Name")),
    ("title", _("Title")),
    ("phone", _("Phone")),
    ("email", _("Email")),
    ("wechat", _("WeChat")),
)


class ContactFormScreen(FormDialog["ContactRecord"]):
    """Add a contact to a customer, or edit one; dismisses with the saved contact."""

    FORM_FIELDS = CONTACT_FIELDS
    ERROR_FIELDS: ClassVar[dict[str, str]] = {
        "contact name": "name", "contact phone": "phone", "contact email": "email",
    }

    def __init__(self, customer_id: int, contact: ContactRecord | None = None) -> None:
        initial = {}
        if contact is not None:
            initial = {key: getattr(contact, key) for key, _title in CONTACT_FIELDS}
        super().__init__(initial)
        self.customer_id = customer_id
        self.contact = contact

    def form_title(self) -> str:
        return _("New contact") if self.contact is None else _("Edit contact")

    def compose_after_fields(self) -> ComposeResult:
        primary = bool(self.contact and self.contact.is_primary)
        yield Checkbox(_("Primary contact"), value=primary, id="field-primary")

    def submit(self, submission: dict[str, Any]) -> ContactRecord:
        fields = dict(submission)
        fields["is_primary"] = bool(fields.pop("primary", False))
        if self.contact is None:
            return self.store.add_contact(self.me, self.customer_id, fields)
        return self.store.update_contact(self.me, self.contact.id, fields)
