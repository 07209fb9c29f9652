"""The team dashboard (a placeholder until its screen lands)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer, Header, Static

from crm_tui.i18n import _
from crm_tui.screens.base import CrmScreen


class DashboardScreen(CrmScreen):
    """The team dashboard."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(_("The team dashboard: coming soon."), classes="placeholder", markup=False)
        yield Footer()
