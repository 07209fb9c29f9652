"""The store's foundation, ``StoreBase``: every part of the store extends it.

It composes the parts every operation relies on, each in the module named for it:

- ``db/session.py``: engine, clock, transactions, change announcements, the schema check;
- ``db/settings.py``: the rules as values, and the one writer of a setting;
- ``team/identity.py``: the acting rep behind a login, and the rep-row lock;
- ``customers/visibility.py``: who sees which customers, masking, customer records;
- ``customers/duplicates.py``: what a duplicate is, read past row-level security where needed;
- ``sea/caps.py``: the private sea's cap;
- ``db/history.py``: the ownership and audit events.

The tables and the customer SELECT are re-exported here, where the store's modules import them.
"""

from __future__ import annotations

from crm_tui.store.customers.duplicates import Duplicates
from crm_tui.store.customers.visibility import (
    CUSTOMER_COLUMNS,
    customer_select,
    mask_email,
    mask_phone,
    owner_rep,
    released_rep,
)
from crm_tui.store.db.history import History
from crm_tui.store.schema.tables import audit_event as audit_t
from crm_tui.store.schema.tables import customer as customer_t
from crm_tui.store.schema.tables import customer_tag as customer_tag_t
from crm_tui.store.schema.tables import ownership_event as ownership_t
from crm_tui.store.schema.tables import rep as rep_t
from crm_tui.store.schema.tables import setting as setting_t
from crm_tui.store.schema.tables import tag as tag_t
from crm_tui.store.sea.caps import Caps
from crm_tui.store.team.identity import Identity

__all__ = [
    "CUSTOMER_COLUMNS",
    "StoreBase",
    "audit_t",
    "customer_select",
    "customer_t",
    "customer_tag_t",
    "mask_email",
    "mask_phone",
    "owner_rep",
    "ownership_t",
    "released_rep",
    "rep_t",
    "setting_t",
    "tag_t",
]


class StoreBase(History, Duplicates, Caps, Identity):
    """Engine, clock, transactions and the rules every other part of the store relies on."""
