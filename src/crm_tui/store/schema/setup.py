"""``crm init``: create or upgrade the database and make its first admin."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from crm_tui.store.clock import Clock
from crm_tui.store.errors import PermissionDenied
from crm_tui.store.schema import migrate as schema
from crm_tui.store.store import Store


@dataclass
class InitResult:
    database: str
    revision: str | None
    admin_created: str | None
    demo_customers: int

    def as_dict(self) -> dict[str, object]:
        return {"database": self.database, "revision": self.revision,
                "admin_created": self.admin_created, "demo_customers": self.demo_customers}


def initialise(
    url: str,
    login: str,
    name: str | None = None,
    *,
    demo: int = 0,
    clock: Clock | None = None,
    progress: Callable[[int, int], None] | None = None,
    prefer_database_role: bool = False,
) -> InitResult:
    """Apply the migrations; the first caller becomes admin; optionally add ``demo`` customers.

    ``login`` is the OS account; with ``prefer_database_role`` PostgreSQL's ``current_user``
    wins (the CLI's identity rule; tests name their admin directly).
    """
    status = schema.upgrade(url)
    store = Store(url, clock=clock)
    try:
        if prefer_database_role:
            login = store.database_user() or login
        admin_created = None
        if not store.has_reps():
            store.add_rep(None, login, name or login, role="admin")
            admin_created = login
        store.after_init()
        actor = store.actor(login)
        if demo:
            if not actor.is_admin:
                raise PermissionDenied("Only an admin may add demo data.")
            from crm_tui.store.demo import generate_demo

            generate_demo(store, demo, actor, progress=progress)
        return InitResult(store.label, status.current, admin_created, demo)
    finally:
        store.close()
