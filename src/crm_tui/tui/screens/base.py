"""What every crm screen shares: a typed handle on the app and its store, and failed workers
sent to the app's one error handler.

``self.app`` is typed as any Textual ``App``; screens and dialogs of crm reach ``CrmApp`` and
its store through ``crm_app``, ``store`` and ``me`` instead (``AppHandle``), so mypy checks every
store call against ``StoreApi`` (``store/api.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, cast

from textual import on
from textual.screen import ModalScreen, Screen
from textual.worker import Worker
from typing_extensions import TypeVar

from crm_tui.tui.messages import forward_failed_worker

if TYPE_CHECKING:
    from textual.app import App

    from crm_tui.store.api import StoreApi
    from crm_tui.store.records import Actor
    from crm_tui.tui.app import CrmApp

ResultType = TypeVar("ResultType", default=None)
"""What a screen is dismissed with (``CrmScreen`` alone: nothing)."""


class _InApp(Protocol):
    @property
    def app(self) -> App[object]: ...


class StoreNotOpen(RuntimeError):
    """A screen asked for the store before ``StoreReady`` (a bug: screens wait for it)."""


def crm_app_of(node: _InApp) -> CrmApp:
    """The crm app a screen, dialog or widget belongs to."""
    return cast("CrmApp", node.app)


class AppHandle:
    """Typed handles on the crm app for a screen or dialog (a mixin before the Textual base)."""

    @property
    def crm_app(self: _InApp) -> CrmApp:
        return crm_app_of(self)

    @property
    def store(self: _InApp) -> StoreApi:
        """The app's store; only once it is open (``crm_app.store is not None``)."""
        store = crm_app_of(self).store
        if store is None:
            raise StoreNotOpen("the store is not open yet")
        return store

    @property
    def me(self: _InApp) -> Actor:
        """The acting rep; known once the store is open."""
        me = crm_app_of(self).me
        if me is None:
            raise StoreNotOpen("the acting rep is not known yet")
        return me


class CrmScreen(AppHandle, Screen[ResultType]):
    """A full screen of the app (``CrmScreen[int | None]``: one dismissed with a value)."""

    @on(Worker.StateChanged)
    def _forward_failed_worker(self, event: Worker.StateChanged) -> None:
        forward_failed_worker(self, event)


class CrmModal(AppHandle, ModalScreen[ResultType]):
    """A dialog over a screen of the app, dismissed with a ``ResultType``."""

    @on(Worker.StateChanged)
    def _forward_failed_worker(self, event: Worker.StateChanged) -> None:
        forward_failed_worker(self, event)
