"""The store as the app sees it: the one declaration of what the TUI may ask of its store.

``Store`` (the store itself, in this process) and ``HelpedStore`` (the same store served by the
helper process, ``helper/transport.py``) both satisfy ``StoreApi``; mypy checks both
(``store.py`` and ``transport.py``), and the helper's forwards are built from this Protocol's
members, so a name not declared here is an ``AttributeError`` in the app, never a quiet detour.
A screen that needs something new from the store adds it here first.

The app's process loads this module before the first rows and must not load SQLAlchemy: the
records and reports named below are imported for the type checker only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from datetime import date, datetime
    from pathlib import Path

    from crm_tui.store.clock import Clock
    from crm_tui.store.files.importing import ImportPreview, ImportReport
    from crm_tui.store.records import (
        Actor,
        ContactRecord,
        CustomerRecord,
        DealRecord,
        DueItem,
        FollowUpRecord,
        ListQuery,
        MergeResult,
    )
    from crm_tui.store.reports import (
        ClaimStatus,
        Dashboard,
        PoolNotes,
        PortraitView,
        RecycleItem,
        RepStats,
        TierRefresh,
        TransferResult,
    )

ChangeCallback = Callable[[frozenset[int] | None], None]
"""Told the ids of the customers another client changed, or None when it cannot say which."""


class Watching(Protocol):
    """What ``StoreApi.watch`` gives: reports go on until ``stop()``."""

    def stop(self) -> None: ...


class StoreApi(Protocol):
    """Every attribute and method the app (its screens, dialogs, palette and start-up) uses.

    The methods take the acting rep explicitly and answer with plain records
    (``records.py``, ``reports.py``) or raise a ``CrmError``; see each method on ``Store``.
    """

    # --- what the store is ----------------------------------------------------------------------

    @property
    def url(self) -> str: ...

    @property
    def label(self) -> str:
        """The database for the header: a SQLite path, or PostgreSQL's host and database."""
        ...

    @property
    def backend(self) -> str:
        """The dialect's name: ``sqlite`` or ``postgresql``."""
        ...

    @property
    def is_sqlite(self) -> bool: ...

    @property
    def clock(self) -> Clock:
        """What "today" is (tests fix it)."""
        ...

    def ping(self) -> None:
        """Raise ``DatabaseUnavailable`` unless the database answers."""
        ...

    def watch(self, on_change: ChangeCallback) -> Watching:
        """Report other clients' changes to ``on_change`` until ``stop()`` (DESIGN §6)."""
        ...

    def close(self) -> None: ...

    # --- customers and their portrait -----------------------------------------------------------

    def get_customer(self, customer_id: int, actor: Actor) -> CustomerRecord: ...

    def customer_page(self, actor: Actor, query: ListQuery, offset: int, limit: int, *,
                      total: int | None = None) -> list[CustomerRecord]: ...

    def count_customers(self, actor: Actor, query: ListQuery, *,
                        cap: int | None = None) -> int: ...

    def find(self, actor: Actor, query: str = "", *, scope: str = "all", limit: int = 50,
             offset: int = 0) -> list[CustomerRecord]: ...

    def portrait_view(self, actor: Actor, customer_id: int, *, history: bool = False,
                      follow_up_limit: int | None = 50) -> PortraitView: ...

    def add_customer(self, actor: Actor, fields: dict[str, Any], *, pool: bool = False,
                     force: bool = False, tags: list[str] | None = None,
                     extra: dict[str, Any] | None = None) -> CustomerRecord: ...

    def update_customer(self, actor: Actor, customer_id: int, changes: dict[str, Any], *,
                        expected_version: int | None = None, force: bool = False,
                        tags: str | Iterable[str] | None = None) -> CustomerRecord: ...

    def set_tags(self, actor: Actor, customer_id: int, tags: list[str]) -> CustomerRecord: ...

    def merge_customers(self, actor: Actor, keep_id: int,
                        other_ids: Iterable[int]) -> MergeResult: ...

    def add_contact(self, actor: Actor, customer_id: int,
                    fields: dict[str, Any]) -> ContactRecord: ...

    def update_contact(self, actor: Actor, contact_id: int,
                       fields: dict[str, Any]) -> ContactRecord: ...

    def refresh_tiers_if_stale(self) -> TierRefresh | None: ...

    # --- follow-ups and deals -------------------------------------------------------------------

    def due(self, actor: Actor, days: int = 0) -> list[DueItem]: ...

    def follow_up_log(self, actor: Actor, *, rep: str | None = None, channel: str | None = None,
                      since: date | None = None, until: date | None = None,
                      customer_id: int | None = None, limit: int = 50,
                      offset: int = 0) -> list[FollowUpRecord]: ...

    def log_follow_up(self, actor: Actor, customer_id: int, summary: str, *,
                      channel: str | None = None, next_at: date | str | None = None,
                      at: datetime | str | None = None) -> FollowUpRecord: ...

    def add_deal(self, actor: Actor, customer_id: int, title: str, amount: Any, *,
                 stage: str | None = None,
                 expected_close: date | str | None = None) -> DealRecord: ...

    def move_deal(self, actor: Actor, deal_id: int, stage: str) -> DealRecord: ...

    # --- the open sea ---------------------------------------------------------------------------

    def claim(self, customer_id: int, actor: Actor) -> CustomerRecord: ...

    def release(self, customer_id: int, actor: Actor,
                reason: str | None = None) -> CustomerRecord: ...

    def lock(self, customer_id: int, actor: Actor) -> CustomerRecord: ...

    def unlock(self, customer_id: int, actor: Actor) -> CustomerRecord: ...

    def release_reasons(self) -> list[str]: ...

    def claim_status(self, actor: Actor) -> ClaimStatus: ...

    def pool_notes(self, actor: Actor, customer_ids: Sequence[int]) -> dict[int, PoolNotes]: ...

    def recycle_if_stale(self, actor: Actor | None = None) -> list[RecycleItem] | None: ...

    def rules(self) -> dict[str, Any]: ...

    def set_rules(self, actor: Actor, values: dict[str, Any], *,
                  over_cap_ok: bool = False) -> dict[str, Any]: ...

    # --- the team -------------------------------------------------------------------------------

    def dashboard(self, actor: Actor) -> Dashboard: ...

    def managed_reps(self, actor: Actor) -> list[RepStats]: ...

    def book_count(self, actor: Actor, login: str, query: ListQuery) -> int: ...

    def book_page(self, actor: Actor, login: str, query: ListQuery, offset: int,
                  limit: int) -> list[CustomerRecord]: ...

    def transfer(self, actor: Actor, from_login: str, to_login: str,
                 customer_ids: Sequence[int] | None = None, *, all_customers: bool = False,
                 reason: str | None = None) -> TransferResult: ...

    # --- files ----------------------------------------------------------------------------------

    def preview_import(self, path: str | Path, *, mapping: Iterable[str] = (),
                       encoding: str | None = None, rows: int = 10) -> ImportPreview: ...

    def import_file(self, actor: Actor, path: str | Path, *, mapping: Iterable[str] = (),
                    on_duplicate: str = "skip", pool: bool = False, dry_run: bool = False,
                    encoding: str | None = None,
                    progress: Callable[[int, int], None] | None = None,
                    parallel: bool | None = None) -> ImportReport:
        """Taken by the app's own store (``progress`` runs in the app), never the helper."""
        ...


def _members() -> tuple[frozenset[str], frozenset[str]]:
    methods, attributes = set(), set()
    for name, value in vars(StoreApi).items():
        if name.startswith("_"):
            continue
        if isinstance(value, property):
            attributes.add(name)
        elif callable(value):
            methods.add(name)
    return frozenset(methods), frozenset(attributes)


API_METHODS, API_ATTRIBUTES = _members()
"""The names of ``StoreApi``'s methods, and of its plain attributes (properties above)."""
