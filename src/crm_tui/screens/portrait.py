"""The customer portrait (a placeholder until the portrait screen lands)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Header, Static

from crm_tui.i18n import _
from crm_tui.screens.base import CrmScreen


class PortraitScreen(CrmScreen):
    """One customer: details, contacts, history (placeholder)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", _("Back"), id="portrait.back",
                tooltip=_("Back to the list")),
    ]

    def __init__(self, customer_id: int, intent: str | None = None) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.intent = intent
        """What the user asked for from the list (edit, follow_up, claim, release, lock)."""

    def compose(self) -> ComposeResult:
        yield Header()
        text = _("Customer #{id}: the portrait screen is coming.").format(id=self.customer_id)
        if self.intent:
            text += "\n" + _("Requested: {intent}.").format(intent=self.intent)
        yield Static(text, id="portrait-placeholder", markup=False)
        yield Footer()
