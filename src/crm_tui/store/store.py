"""The ``Store`` facade: every part of the store behind one object, for the CLI and the TUI."""

from __future__ import annotations

from .customers import CustomerOps
from .files import FileOps
from .listing import ListingOps
from .portrait import PortraitOps
from .reps import RepOps
from .sea import SeaOps
from .security import SecurityOps
from .stats import StatsOps


class Store(PortraitOps, ListingOps, CustomerOps, SeaOps, SecurityOps, RepOps, FileOps, StatsOps):
    """One database, every rule. Methods take the acting rep explicitly (``actor=``)."""


def open_store(url: str, **kwargs: object) -> Store:
    """Open the store at ``url`` (refusing an out-of-date schema unless ``check_schema=False``)."""
    return Store(url, **kwargs)  # type: ignore[arg-type]
