"""Opening the TUI from ``crm``: resolve the store and identity, then run the app."""

from __future__ import annotations


def launch(url: str, as_login: str | None = None) -> None:
    from crm_tui.app import make_app
    from crm_tui.config import load_settings, resolve_actor
    from crm_tui.store import open_store

    store = open_store(url)
    try:
        actor = resolve_actor(store, as_login)
        make_app(store, actor, settings=load_settings()).run()
    finally:
        store.close()
