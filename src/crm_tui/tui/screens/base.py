"""What every crm screen shares: failed workers go to the app's one error handler."""

from __future__ import annotations

from textual import on
from textual.screen import Screen
from textual.worker import Worker

from crm_tui.tui.messages import forward_failed_worker


class CrmScreen(Screen[None]):
    """A full screen of the app."""

    @on(Worker.StateChanged)
    def _forward_failed_worker(self, event: Worker.StateChanged) -> None:
        forward_failed_worker(self, event)
