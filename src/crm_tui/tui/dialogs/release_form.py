"""Release a customer to the open sea, with a reason from the pick-list or in your own words."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Button, Select, Static

from crm_tui.i18n import _
from crm_tui.present.format import money
from crm_tui.present.textsafe import printable
from crm_tui.tui.dialogs.form import FormDialog

if TYPE_CHECKING:
    from crm_tui.store.records import CustomerRecord, DealRecord


def open_deals_warning(deals: Sequence[DealRecord]) -> str:
    """What releasing does to the customer's open deals, as the store moves them
    (``store/db/history.py``: open deals follow their customer, to nobody in the open sea)."""
    listed = "; ".join(
        f"{printable(d.title)} ({money(d.amount)}, {_(d.stage)})" for d in deals)
    if len(deals) == 1:
        head = _("This customer has an open deal: {deals}.").format(deals=listed)
        then = _("It goes to the open sea with the customer: it leaves your pipeline, and "
                 "whoever claims the customer next takes it over.")
    else:
        head = _("This customer has {n} open deals: {deals}.").format(n=len(deals), deals=listed)
        then = _("They go to the open sea with the customer: they leave your pipeline, and "
                 "whoever claims the customer next takes them over.")
    return f"{head} {then}"


class ReleaseFormScreen(FormDialog["CustomerRecord"]):
    """Dismisses with the released customer; a missing reason the rules require shows beside
    the pick-list."""

    FORM_FIELDS = (("choice", _("Reason")), ("reason", _("In words")))

    def __init__(self, customer_id: int, customer_name: str, reasons: list[str],
                 open_deals: Sequence[DealRecord] = ()) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.customer_name = customer_name
        self.reasons = reasons
        self.open_deals = list(open_deals)
        """The customer's open deals: the form warns what releasing does to them."""

    def form_title(self) -> str:
        return _("Release {name} to the open sea").format(name=printable(self.customer_name))

    def field_widget(self, key: str) -> Widget:
        if key == "choice":
            return Select([(printable(r), r) for r in self.reasons], id="field-choice",
                          prompt=_("pick a reason"))
        return super().field_widget(key)

    def compose_after_fields(self) -> ComposeResult:
        if self.open_deals:
            yield Static(open_deals_warning(self.open_deals), id="release-deals", markup=False)

    def submit(self, submission: dict[str, Any]) -> CustomerRecord:
        parts = [p for p in (submission.get("choice"), (submission.get("reason") or "").strip()) if p]
        reason = ": ".join(parts) if parts else None
        return self.store.release(self.customer_id, self.me, reason)

    def show_error(self, error: Exception) -> None:
        if getattr(error, "rule", None) == "require_release_reason":
            self.query_one("#save", Button).disabled = False
            self.field_message("choice", str(error))
            return
        super().show_error(error)
