"""Duplicate matching: which customer, in the database or earlier in the file, a row duplicates.

The rule is the store's own (``customers/duplicates.py``): the same E.164 phone, the same
case-folded email, or the same name at the same company (``match_key``, unless both phones are
known and differ); a name alone is no duplicate. Database candidates are found by index look-ups
per batch, never scored against the whole table (DESIGN §11).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ARRAY,
    Connection,
    Integer,
    String,
    any_,
    func,
    literal,
    literal_column,
    select,
)

from crm_tui.store.customers.duplicates import DuplicateKeys, match_reasons
from crm_tui.store.files.importing.rows import PreparedRow
from crm_tui.store.records import Actor
from crm_tui.store.schema.tables import customer as customer_t
from crm_tui.store.schema.tables import rep as rep_t

if TYPE_CHECKING:
    from crm_tui.store.store import Store

FUZZY_CUTOFF = 90
"""Kept for callers of the package; names match fuzzily only with the same phone now."""
FUZZY_BLOCK_LIMIT = 500


@dataclass
class Target:
    """A customer a row may duplicate: one in the database, or one this import adds."""

    customer_id: int | None
    owner_id: int | None
    owner_login: str | None = None
    owner_name: str | None = None
    row: int | None = None  # the file row that added it
    values: dict[str, Any] | None = None  # current field values (for merging), when known
    version: int | None = None
    pending: PreparedRow | None = None  # an added row of this batch, not yet written
    tags: set[str] | None = None  # its tags, loaded when first merged into
    contact_keys: set[tuple[str, str, str]] | None = None


Match = tuple[Target, str]  # a target and what matched it ("phone", "similar name", ...)


class KeyIndex:
    """Targets by duplicate key: phone, email and ``match_key`` (name at company)."""

    def __init__(self) -> None:
        self.by_phone: dict[str, list[Target]] = {}
        self.by_email: dict[str, Target] = {}
        self.by_match: dict[str, list[tuple[str | None, Target]]] = {}

    def add(self, target: Target, phone: str | None, email: str | None,
            match: str | None) -> None:
        """File ``target`` under each of its keys (``match``: ``duplicates.match_key``)."""
        if phone:
            self.by_phone.setdefault(phone, [])
            if target not in self.by_phone[phone]:
                self.by_phone[phone].append(target)
        if email:
            self.by_email.setdefault(email, target)
        if match:
            block = self.by_match.setdefault(match, [])
            if all(known is not target for _, known in block):
                block.append((phone, target))

    def add_row(self, target: Target, row: PreparedRow) -> None:
        """File ``target`` under the keys of the row that adds it."""
        self.add(target, row.data.phone, row.data.email, row.match_key)

    def matches(self, row: PreparedRow) -> list[Match]:
        """The targets ``row`` duplicates (``duplicates.match_reasons``), the strongest first."""
        data = row.data
        keys = DuplicateKeys(data.phone, data.email, row.match_key)
        candidates: list[tuple[Target, DuplicateKeys]] = []
        if data.phone:
            candidates += [(t, DuplicateKeys(data.phone, None, None))
                           for t in self.by_phone.get(data.phone, ())]
        if data.email and data.email in self.by_email:
            candidates.append((self.by_email[data.email], DuplicateKeys(None, data.email, None)))
        if row.match_key:
            candidates += [(t, DuplicateKeys(phone, None, row.match_key))
                           for phone, t in self.by_match.get(row.match_key, ())]
        found: list[tuple[int, Match]] = []
        for target, known in candidates:
            reasons = match_reasons(keys, known)
            if reasons:
                found.append((len(found), (target, reasons[0])))
        strength = {"phone": 0, "email": 0}
        found.sort(key=lambda item: (strength.get(item[1][1], 1), item[0]))
        return [match for _, match in found]


def one_of(store: Store, column: Any, values: list[Any]) -> Any:
    """``column`` is one of ``values``: a single bound parameter however many values (a JSON
    array read by ``json_each`` on SQLite, an array on PostgreSQL), so a batch's thousands
    of keys cost one index probe each and no per-value SQL compilation."""
    if store.is_sqlite:
        return column.in_(
            select(literal_column("value")).select_from(
                func.json_each(literal(json.dumps(values, ensure_ascii=False)))
            )
        )
    element = Integer if values and isinstance(values[0], int) else String
    return column == any_(literal(values, type_=ARRAY(element)))


def lookup(store: Store, conn: Connection, rows: list[PreparedRow]) -> KeyIndex:
    """Database customers sharing a duplicate key with any row of the batch, indexed (one
    index look-up per key kind for the whole batch)."""
    phones = {r.data.phone for r in rows if r.data.phone}
    emails = {r.data.email for r in rows if r.data.email}
    matches = {r.match_key for r in rows if r.match_key}
    index = KeyIndex()
    seen: set[int] = set()
    conditions = [one_of(store, column, sorted(values)) for column, values in (
        (customer_t.c.phone, phones), (customer_t.c.email, emails),
        (customer_t.c.match_key, matches)) if values]
    columns = [customer_t.c.id, customer_t.c.owner_id, customer_t.c.phone, customer_t.c.email,
               customer_t.c.match_key, rep_t.c.login, rep_t.c.name.label("rep_name")]
    for condition in conditions:
        statement = (
            select(*columns)
            .select_from(customer_t.outerjoin(rep_t, rep_t.c.id == customer_t.c.owner_id))
            .where(condition)
        )
        for found in conn.execute(statement):
            if found.id in seen:
                continue
            seen.add(found.id)
            target = Target(found.id, found.owner_id, found.login, found.rep_name)
            index.add(target, found.phone, found.email, found.match_key)
    if store.rls_applies(conn):
        # PostgreSQL row-level security hides other reps' customers from a rep's role: ask
        # the store's duplicate check, which names their owners and nothing else.
        for row in rows:
            for hidden in store.duplicate_candidates(
                conn, row.match_key, row.data.phone, row.data.email, None
            ):
                if hidden.id in seen:
                    continue
                seen.add(hidden.id)
                target = Target(hidden.id, hidden.owner_id, hidden.login, hidden.name)
                # The function applied the phone veto to its match_key already.
                index.add(target, hidden.phone, hidden.email, hidden.match_key)
    return index


def dedupe(matches: list[Match]) -> list[Match]:
    """One entry per customer; a database row wins over the same customer met in the file."""
    seen: set[int] = set()
    out: list[Match] = []
    for target, on in matches:
        key = target.customer_id if target.customer_id is not None else -id(target)
        if key in seen:
            continue
        seen.add(key)
        out.append((target, on))
    return out


def duplicate_reason(target: Target, on: str, actor: Actor) -> str:
    """Why a row is a duplicate, naming the customer (or row) it duplicates and where it is."""
    if target.row is not None:
        return f"duplicate of row {target.row} of this file (same {on})"
    if target.owner_id is None:
        where = "in the open sea"
    elif target.owner_id == actor.id:
        where = "owned by you"
    else:
        where = f"owned by {target.owner_name or target.owner_login} ({target.owner_login})"
    return f"duplicate of customer {target.customer_id} (same {on}), {where}"
