"""Opening the TUI from ``crm``: the first frame first, then the store in a worker.

Importing the store (SQLAlchemy, SQLModel) and opening the database happen in the app's
worker through ``opener``, so the screen appears while they load (DESIGN §9, §11). An error
while opening (an unknown rep, an out-of-date schema) ends the app and is raised here, where
the CLI turns it into one sentence and its exit code.
"""

from __future__ import annotations

from pathlib import Path


def provisional_label(url: str) -> str:
    """A database label for the header before the store is open (no SQLAlchemy needed)."""
    if "://" not in url:
        return str(Path(url).expanduser().resolve())
    scheme, _sep, rest = url.partition("://")
    if scheme.startswith("sqlite"):
        return rest.lstrip("/") and "/" + rest.lstrip("/")
    host_db = rest.rpartition("@")[2]
    return host_db.split("?")[0]


def launch(url: str, as_login: str | None = None) -> None:
    import os

    from crm_tui.app import NO_RECYCLE_ENV, make_app
    from crm_tui.config import load_settings

    def open_store_and_actor():  # type: ignore[no-untyped-def]
        from crm_tui.config import resolve_actor
        from crm_tui.store import open_store

        store = open_store(url)
        try:
            return store, resolve_actor(store, as_login)
        except BaseException:
            store.close()
            raise

    app = make_app(None, None, settings=load_settings(), opener=open_store_and_actor,
                   database_label=provisional_label(url),
                   recycle_at_start=not os.environ.get(NO_RECYCLE_ENV))
    try:
        app.run()
    finally:
        if app.store is not None:
            app.store.close()
    if app.startup_error is not None:
        raise app.startup_error
