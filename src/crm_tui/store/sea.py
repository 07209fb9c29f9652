"""Open sea and private sea: claim, release, lock, recycle, transfer (DESIGN §4)."""

from __future__ import annotations

from .base import StoreBase


class SeaOps(StoreBase):
    """The ownership rules; every move writes an ownership_event."""
