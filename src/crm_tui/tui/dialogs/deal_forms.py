"""A customer's deals: open a new one, or move one to another stage (won and lost close it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.widget import Widget
from textual.widgets import Input, Select

from crm_tui.i18n import _
from crm_tui.present.textsafe import printable
from crm_tui.tui.dialogs.form import FormDialog

if TYPE_CHECKING:
    from crm_tui.store.records import DealRecord


class DealFormScreen(FormDialog["DealRecord"]):
    """A new deal: title, amount, stage, expected close; dismisses with the deal."""

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

    def submit(self, submission: dict[str, Any]) -> DealRecord:
        return self.store.add_deal(self.me, self.customer_id, submission["title"],
                                   submission["amount"], stage=submission["stage"],
                                   expected_close=submission["expected_close"] or None)


class MoveStageScreen(FormDialog["DealRecord"]):
    """Move one of the customer's deals to another stage; dismisses with the deal."""

    FORM_TITLE = _("Move a deal")
    FORM_FIELDS = (("deal", _("Deal")), ("stage", _("Stage")))

    def __init__(self, deals: list[DealRecord]) -> None:
        super().__init__()
        self.deals = deals

    def field_widget(self, key: str) -> Widget:
        from crm_tui.present.format import money

        if key == "deal":
            options = [(f"#{d.id} {printable(d.title)} · {_(d.stage)} · {money(d.amount)}", d.id)
                       for d in self.deals]
            first = next((d.id for d in self.deals if d.stage not in ("won", "lost")), self.deals[0].id)
            return Select(options, value=first, allow_blank=False, id="field-deal")
        from crm_tui.store.domain import STAGES

        return Select([(_(s), s) for s in STAGES], value="won", allow_blank=False, id="field-stage")

    def submit(self, submission: dict[str, Any]) -> DealRecord:
        return self.store.move_deal(self.me, int(submission["deal"]), submission["stage"])
