"""Duplicate matching: which customer, in the database or earlier in the file, a row duplicates.

Duplicates are looked for by E.164 phone, case-folded email, the store's ``name_key``, the name
without its legal form (``keys.core_key``) and, among customers of the same company, a rapidfuzz
similarity of at least ``FUZZY_CUTOFF``. Database candidates are narrowed by index look-ups per
batch first, never scored against the whole table (DESIGN §11).
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

from crm_tui.store import validate
from crm_tui.store.files.importing.keys import company_key, core_key, core_variants
from crm_tui.store.files.importing.rows import PreparedRow
from crm_tui.store.records import Actor
from crm_tui.store.schema.tables import customer as customer_t
from crm_tui.store.schema.tables import rep as rep_t

if TYPE_CHECKING:
    from crm_tui.store.store import Store

FUZZY_CUTOFF = 90
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
    """Targets by duplicate key: phone, email, name_key, core name, company (fuzzy block)."""

    def __init__(self) -> None:
        self.by_phone: dict[str, Target] = {}
        self.by_email: dict[str, Target] = {}
        self.by_name: dict[str, Target] = {}
        self.by_core: dict[str, Target] = {}
        self.by_company: dict[str, list[tuple[str, Target]]] = {}

    def add(self, target: Target, phone: str | None, email: str | None, name_key: str,
            core: str, company: str | None) -> None:
        """File ``target`` under each of its keys (``company`` is a ``keys.company_key``)."""
        if phone:
            self.by_phone.setdefault(phone, target)
        if email:
            self.by_email.setdefault(email, target)
        if name_key:
            self.by_name.setdefault(name_key, target)
        if core and len(core) >= 2:
            self.by_core.setdefault(core, target)
        if company and name_key:
            block = self.by_company.setdefault(company, [])
            if len(block) < FUZZY_BLOCK_LIMIT:
                block.append((name_key, target))

    def add_row(self, target: Target, row: PreparedRow) -> None:
        """File ``target`` under the keys of the row that adds it."""
        self.add(target, row.data.phone, row.data.email, row.name_key, row.core, row.company_key)

    def matches(self, row: PreparedRow) -> list[Match]:
        """The targets ``row`` shares a key with, the strongest key first."""
        found: list[Match] = []
        data = row.data
        if data.phone and data.phone in self.by_phone:
            found.append((self.by_phone[data.phone], "phone"))
        if data.email and data.email in self.by_email:
            found.append((self.by_email[data.email], "email"))
        if row.name_key in self.by_name:
            found.append((self.by_name[row.name_key], "name"))
        if row.core and row.core in self.by_core:
            found.append((self.by_core[row.core], "similar name"))
        if row.company_key and row.company_key in self.by_company:
            from rapidfuzz import fuzz, process

            block = self.by_company[row.company_key]
            best = process.extractOne(row.name_key, [key for key, _ in block], scorer=fuzz.ratio,
                                      score_cutoff=FUZZY_CUTOFF)
            if best is not None:
                found.append((block[best[2]][1], "similar name at the same company"))
        return found


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
    """Database customers sharing a duplicate key with any row of the batch, indexed.

    Exact keys (phone, email, name key and the name with each legal form) are index
    look-ups; the fuzzy block is "same company": its names are fetched (light rows only,
    and not for a company with more than ``FUZZY_BLOCK_LIMIT`` customers, which is no
    block at all) and scored with rapidfuzz against the batch's names of that company.
    """
    phones = {r.data.phone for r in rows if r.data.phone}
    emails = {r.data.email for r in rows if r.data.email}
    keys = {r.name_key for r in rows if r.name_key}
    for row in rows:
        if len(row.core) >= 2:
            keys.update(core_variants(row.core))
    index = KeyIndex()
    seen: set[int] = set()
    conditions = [one_of(store, column, sorted(values)) for column, values in (
        (customer_t.c.phone, phones), (customer_t.c.email, emails),
        (customer_t.c.name_key, keys)) if values]
    similar = company_block(store, conn, rows)
    if similar:
        conditions.append(one_of(store, customer_t.c.id, sorted(similar)))
    columns = [customer_t.c.id, customer_t.c.owner_id, customer_t.c.name, customer_t.c.phone,
               customer_t.c.email, customer_t.c.company, rep_t.c.login,
               rep_t.c.name.label("rep_name")]
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
            index.add(target, found.phone, found.email, validate.name_key(found.name),
                      core_key(found.name), company_key(found.company))
    if store.rls_applies(conn):
        # PostgreSQL row-level security hides other reps' customers from a rep's role: ask
        # the store's duplicate check, which names their owners and nothing else.
        for row in rows:
            for hidden in store.duplicate_candidates(
                conn, row.name_key, row.data.phone, row.data.email, None
            ):
                if hidden.id in seen:
                    continue
                seen.add(hidden.id)
                target = Target(hidden.id, hidden.owner_id, hidden.login, hidden.name)
                by_name = not hidden.phone and not hidden.email
                index.add(target, hidden.phone, hidden.email,
                          row.name_key if by_name else "", "", None)
    return index


def company_block(store: Store, conn: Connection, rows: list[PreparedRow]) -> set[int]:
    """Ids of customers of the batch's companies whose name scores as a look-alike."""
    wanted: dict[str, list[str]] = {}
    for row in rows:
        if row.data.company:
            wanted.setdefault(row.data.company, []).append(row.name_key)
    if not wanted:
        return set()
    companies = sorted(wanted)
    crowded = {company for company, n in conn.execute(
        select(customer_t.c.company, func.count())
        .where(one_of(store, customer_t.c.company, companies))
        .group_by(customer_t.c.company)
    ) if n > FUZZY_BLOCK_LIMIT}
    usable = [c for c in companies if c not in crowded]
    if not usable:
        return set()
    from rapidfuzz import fuzz

    found: set[int] = set()
    for customer_id, name_key, company in conn.execute(
        select(customer_t.c.id, customer_t.c.name_key, customer_t.c.company)
        .where(one_of(store, customer_t.c.company, usable))
    ):
        for key in wanted.get(company, ()):
            if fuzz.ratio(key, name_key, score_cutoff=FUZZY_CUTOFF):
                found.add(customer_id)
                break
    return found


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
