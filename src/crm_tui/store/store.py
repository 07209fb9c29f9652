"""The ``Store`` facade: every part of the store behind one object, for the CLI and the TUI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_tui.store.analytics.dashboard import StatsOps
from crm_tui.store.customers.merge import MergeOps
from crm_tui.store.customers.portrait import PortraitOps
from crm_tui.store.files.ops import FileOps
from crm_tui.store.sea.ops import SeaOps
from crm_tui.store.search.listing import ListingOps
from crm_tui.store.security.row_level import SecurityOps
from crm_tui.store.team.reps import RepOps

if TYPE_CHECKING:
    from crm_tui.store.api import StoreApi
    from crm_tui.store.clock import Clock


class Store(PortraitOps, ListingOps, MergeOps, SeaOps, SecurityOps, RepOps, FileOps, StatsOps):
    """One database, every rule. Methods take the acting rep explicitly (``actor=``)."""


def open_store(url: str, *, clock: Clock | None = None, check_schema: bool = True) -> Store:
    """Open the store at ``url`` (refusing an out-of-date schema unless ``check_schema=False``)."""
    return Store(url, clock=clock, check_schema=check_schema)


if TYPE_CHECKING:
    def _is_the_apps_store(store: Store) -> StoreApi:
        # mypy checks here that ``Store`` has everything the app may ask of it (``api.py``).
        return store
