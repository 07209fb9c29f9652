"""The store: the only way to the data, for the TUI and the CLI alike; it enforces every rule.

It never imports Textual or Typer (``tests/test_architecture.py`` checks).
"""

from __future__ import annotations

from .clock import Clock, FixedClock
from .errors import (
    AlreadyExists,
    Conflict,
    CrmError,
    DatabaseUnavailable,
    NotFound,
    PermissionDenied,
    RuleRefused,
    SchemaOutOfDate,
    UnknownRep,
    UsageError,
    ValidationError,
)
from .records import Actor, CustomerRecord, Portrait
from .store import Store, open_store

__all__ = [
    "Actor", "AlreadyExists", "Clock", "Conflict", "CrmError", "CustomerRecord",
    "DatabaseUnavailable", "FixedClock", "NotFound", "PermissionDenied", "Portrait", "RuleRefused",
    "SchemaOutOfDate", "Store", "UnknownRep", "UsageError", "ValidationError", "open_store",
]
