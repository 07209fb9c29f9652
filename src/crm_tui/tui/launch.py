"""Opening the TUI from ``crm``: the first frame first, then the store in a worker.

Importing the store (SQLAlchemy) and opening the database happen in a helper process forked
before anything heavy is imported (``store/helper.py``), or, where that would not pay off, in
the app's worker through ``opener``; either way the screen appears while they load (DESIGN §9,
§11). An error while opening (an unknown rep, an out-of-date schema) ends the app and is raised
here, where the CLI turns it into one sentence and its exit code.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crm_tui.store import Actor, Store
    from crm_tui.store.api import StoreApi
    from crm_tui.store.helper.transport import StoreHelper


def provisional_label(url: str) -> str:
    """A database label for the header before the store is open (no SQLAlchemy needed)."""
    if "://" not in url:
        return str(Path(url).expanduser().resolve())
    scheme, _sep, rest = url.partition("://")
    if scheme.startswith("sqlite"):
        return rest.lstrip("/") and "/" + rest.lstrip("/")
    host_db = rest.rpartition("@")[2]
    return host_db.split("?")[0]


def _open_store_and_actor(url: str, as_login: str | None) -> tuple[Store, Actor]:
    from crm_tui.config import resolve_actor
    from crm_tui.store import open_store

    store = open_store(url)
    try:
        return store, resolve_actor(store, as_login)
    except BaseException:
        store.close()
        raise


SHARED_MODULES = ("asyncio", "concurrent.futures", "ssl", "tempfile", "uuid", "platform",
                  "random", "subprocess", "typing_extensions", "unicodedata")
"""Modules both the app (Textual) and the helper (SQLAlchemy, psycopg) load."""


def load_shared_modules() -> None:
    """Import ``SHARED_MODULES`` before the fork: the app needs them on its way to the first
    frame anyway, and the helper then starts with them loaded (~40 ms off its way to the
    database), since the helper's way is the longer one on PostgreSQL."""
    import importlib

    for name in SHARED_MODULES:
        importlib.import_module(name)


def start_store_helper(url: str, as_login: str | None) -> StoreHelper | None:
    """Fork the process that opens the store while the app starts (``store/helper.py``).

    Called before Textual or SQLAlchemy is imported and before any thread starts; None where
    a helper would not pay off (one core, no ``fork``, ``CRM_TUI_STORE_HELPER=0``).
    """
    import crm_tui

    crm_tui.STORE_ON_DEMAND = True
    from crm_tui.store.helper.transport import start_helper

    def open_own() -> Store:
        from crm_tui.store import open_store

        return open_store(url)

    return start_helper(lambda: _open_store_and_actor(url, as_login), open_own)


def open_for_app(helper: StoreHelper | None, url: str,
                 as_login: str | None) -> tuple[StoreApi, Actor]:
    """The app's store and acting rep: the helper's, or the app's own where there is no helper
    or it died before it had the database open (what the database said is raised as said)."""
    if helper is not None:
        from crm_tui.store.helper.transport import HelperFailed

        try:
            return helper.open()
        except HelperFailed:
            pass
    return _open_store_and_actor(url, as_login)


def launch(url: str, as_login: str | None = None, helper: StoreHelper | None = None) -> None:
    import os

    from crm_tui.config import load_settings
    from crm_tui.tui.app import NO_RECYCLE_ENV, make_app

    def opener() -> tuple[StoreApi, Actor]:
        return open_for_app(helper, url, as_login)

    app = make_app(None, None, settings=load_settings(), opener=opener,
                   database_label=provisional_label(url),
                   recycle_at_start=not os.environ.get(NO_RECYCLE_ENV))
    try:
        app.run()
    finally:
        if app.store is not None:
            app.store.close()
        elif helper is not None:
            helper.close()
    if app.startup_error is not None:
        raise app.startup_error
