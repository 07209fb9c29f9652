"""Messages that several screens share; a widget's own messages are nested in the widget."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.dom import DOMNode
from textual.message import Message
from textual.worker import Worker, WorkerState

if TYPE_CHECKING:
    from crm_tui.store import Actor
    from crm_tui.store.api import StoreApi


class StoreReady(Message):
    """The store is open and the acting rep known (posted to the app once, at start)."""

    def __init__(self, store: StoreApi, actor: Actor) -> None:
        super().__init__()
        self.store = store
        self.actor = actor


class StoreFailed(Message):
    """Opening the store failed: the app exits with this error's sentence and exit code."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error


class CustomersChanged(Message):
    """Another client (or this one) changed customers; ``ids`` is None when unknown.

    A flood of these is coalesced: a newer one replaces one still waiting in the queue.
    """

    def __init__(self, ids: frozenset[int] | None) -> None:
        super().__init__()
        self.ids = ids

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, CustomersChanged)


class OpenCustomer(Message):
    """Open the portrait of a customer (from the table, the palette or another screen)."""

    def __init__(self, customer_id: int) -> None:
        super().__init__()
        self.customer_id = customer_id


def forward_failed_worker(node: DOMNode, event: Worker.StateChanged) -> None:
    """``Worker.StateChanged`` does not bubble: hand a failure on to the app, which shows it."""
    if event.state == WorkerState.ERROR:
        node.app.post_message(Worker.StateChanged(event.worker, event.state))
