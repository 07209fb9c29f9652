"""The store: the only way to the data, for the TUI and the CLI alike; it enforces every rule.

It never imports Textual or Typer (``tests/test_architecture.py`` checks).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import crm_tui
from crm_tui.store.clock import Clock, FixedClock
from crm_tui.store.errors import (
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
from crm_tui.store.records import Actor, CustomerRecord, Portrait

if TYPE_CHECKING or not crm_tui.STORE_ON_DEMAND:
    from crm_tui.store.store import Store, open_store
else:
    def __getattr__(name: str) -> object:
        # The TUI's process unpickles records from the store's helper (helper.py) and must not
        # load SQLAlchemy for them: the store itself is loaded if and when it is asked for.
        if name in ("Store", "open_store"):
            from crm_tui.store import store

            return getattr(store, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# The store's warnings (a lost change notification, a watcher reconnecting) are for whoever
# configures logging; without that they must not print tracebacks over a user's terminal.
logging.getLogger("crm").addHandler(logging.NullHandler())

__all__ = [
    "Actor", "AlreadyExists", "Clock", "Conflict", "CrmError", "CustomerRecord",
    "DatabaseUnavailable", "FixedClock", "NotFound", "PermissionDenied", "Portrait", "RuleRefused",
    "SchemaOutOfDate", "Store", "UnknownRep", "UsageError", "ValidationError", "open_store",
]
