"""The "database unavailable" banner: shown while the app retries a lost connection.

The app mounts it on the screen in front when a store call reports ``DatabaseUnavailable``
and removes it when a ping succeeds again. It is never part of a screen's composition, so
nothing shows (and no snapshot changes) while the database is reachable.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from crm_tui.i18n import _
from crm_tui.present.textsafe import printable


class ConnectionBanner(Static):
    """One line over the screen: the database is unavailable, the app retries, text is kept."""

    DEFAULT_CSS = """
    ConnectionBanner {
        dock: top;
        height: auto;
        width: 100%;
        padding: 0 1;
        background: $error;
        color: $text;
        text-style: bold;
    }
    """

    def __init__(self, reason: str = "") -> None:
        super().__init__(markup=False, classes="connection-banner")
        self.reason = reason

    def on_mount(self) -> None:
        self.show_reason(self.reason)

    def show_reason(self, reason: str) -> None:
        """Say why (the store's one sentence), e.g. after a retry failed differently."""
        self.reason = reason
        line = _("Database unavailable — retrying… (your typed text is kept)")
        self.update(Text(f"{line} {printable(reason)}".rstrip()))
