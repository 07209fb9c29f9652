"""The Textual app.

Threading rule: database work runs in ``@work(thread=True, exclusive=True, exit_on_error=False,
group=...)`` workers; workers never touch widgets, they ``post_message``; message handlers own
every UI change. One ``Worker.StateChanged`` handler shows a failed worker's error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static

if TYPE_CHECKING:
    from crm_tui.config import Settings
    from crm_tui.store import Actor, Store


class CrmApp(App[None]):
    """crm-tui."""

    CSS_PATH = "app.tcss"
    BINDINGS = [("q", "quit", "Quit")]

    def __init__(self, store: Store, actor: Actor, settings: Settings | None = None) -> None:
        super().__init__()
        self.store = store
        self.me = actor
        self.settings = settings
        self.title = "crm"
        self.sub_title = f"{actor.login} @ {store.label}"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"Welcome, {self.me.name}.", id="welcome", markup=False)
        yield Footer()


def make_app(store: Store, actor: Actor, settings: Settings | None = None) -> CrmApp:
    """The one factory for the CLI and the tests."""
    return CrmApp(store, actor, settings)
