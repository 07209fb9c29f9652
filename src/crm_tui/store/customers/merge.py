"""Two records of one customer made one (``crm merge KEEP OTHER...``), and the likely pairs to
merge (``crm duplicates``), by the duplicate rule of ``customers/duplicates.py``.

A merge is one transaction. It locks the customers (in id order, so two merges or a merge and a
transfer of overlapping customers wait for each other instead of deadlocking), then moves every
OTHER's contacts, follow-ups, deals (open ones to KEEP's owner, as on any move: ``db/history.py``),
tags and history into KEEP, fills KEEP's empty fields from them, keeps each value KEEP already
had otherwise under ``extra["merged #ID"]`` (nothing is lost), writes one audit row naming what
was merged, and deletes the OTHER rows. Each OTHER id stays findable: ``merged_customer`` maps
it to KEEP, and reading it answers "Customer 12 was merged into #5." (``MergedAway``).

(SQLite may give a later customer a merged id again: the living customer is then the one
found by that id.) Deleting rather than hiding the merged rows keeps every list, search, count, cap and rule
exactly as it was: a merged customer is simply no longer there.

What a merge moves is written once, as SQL (``merge_moves``): the store runs it itself on
SQLite and on connections row-level security does not filter (the owner of the tables); a rep's
own PostgreSQL role may neither move history and follow-ups nor delete a customer
(``security/policies.py``), so there the same statements run inside the SECURITY DEFINER
function ``crm_merge`` (``security/row_level.py``), which checks first that the caller may merge
every customer named, by the rule of ``_may_merge``.

Concurrency: an edit of an OTHER that commits first is read by the merge after its lock, so it
lands in KEEP (filled, or kept under ``extra``); an edit that comes after finds the customer
merged, and is refused with that sentence (its optimistic lock on ``version`` matches no row).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, text, update
from sqlalchemy.exc import DBAPIError

from crm_tui.store.customers.duplicates import (
    DuplicateKeys,
    match_key,
    match_reasons,
)
from crm_tui.store.customers.editing import CustomerOps
from crm_tui.store.db.base import customer_select, customer_t
from crm_tui.store.domain import OPEN_STAGES
from crm_tui.store.errors import PermissionDenied, UsageError
from crm_tui.store.records import Actor, DuplicatePair, MergeResult
from crm_tui.store.schema.tables import merged_customer as merged_t

FILLED_FIELDS = ("company", "industry", "region", "address", "phone", "email", "source", "notes")
"""KEEP's fields an empty value of which a merged customer's value fills."""

MERGE_LIMIT = 50
"""Most customers merged into one at once."""

PAIR_BASE = {"phone": 80, "email": 80, "name and company": 70, "similar name and phone": 60}
"""A pair's score from its strongest reason; more reasons and nearer names add to it."""

REASON_TEXT = {"phone": "same phone", "email": "same email",
               "name and company": "same name and company",
               "similar name and phone": "similar name and same phone"}

GROUP_LIMIT = 50
"""Most customers of one shared phone, email or name-at-company paired with each other."""


def merge_moves(prefix: str = "") -> list[tuple[str | None, str]]:
    """What a merge moves from OTHER (``:others``) to KEEP (``:keep``), as SQL both the store
    and PostgreSQL's ``crm_merge`` run, in order; each with the name it is counted under in
    ``MergeResult.moved`` (None: not counted). ``prefix`` qualifies the tables (``crm_merge``
    runs with an empty search path); ``:actor`` and ``:at`` name who merged and when.

    Contacts, follow-ups and deals move (open deals to KEEP's owner, as on every move; won and
    lost ones keep the rep who closed them; at most one primary contact, KEEP's or else the
    first moved), tags are added where KEEP lacks them, ownership and audit history move (the
    rows themselves, so KEEP's portrait shows them), merges into OTHER now point at KEEP, and
    OTHER is deleted with its id recorded in ``merged_customer``. SQLite gives a new customer
    the id after the highest one left, which may be a merged one's: that mapping is stale once
    the id lives again, hence the DELETE before the INSERT.
    """
    p = prefix
    stages = ", ".join(f"'{stage}'" for stage in OPEN_STAGES)
    return [
        ("contacts",
         f"UPDATE {p}contact SET customer_id = :keep, is_primary = CASE WHEN EXISTS "
         f"(SELECT 1 FROM {p}contact k WHERE k.customer_id = :keep AND k.is_primary) "
         f"THEN false ELSE is_primary END WHERE customer_id IN :others"),
        (None,
         f"UPDATE {p}contact SET is_primary = false WHERE customer_id = :keep AND is_primary "
         f"AND id > (SELECT min(k.id) FROM {p}contact k "
         f"WHERE k.customer_id = :keep AND k.is_primary)"),
        ("follow_ups",
         f"UPDATE {p}follow_up SET customer_id = :keep WHERE customer_id IN :others"),
        ("deals",
         f"UPDATE {p}deal SET customer_id = :keep, owner_id = CASE WHEN stage IN ({stages}) "
         f"THEN (SELECT c.owner_id FROM {p}customer c WHERE c.id = :keep) ELSE owner_id END "
         f"WHERE customer_id IN :others"),
        ("tags",
         f"INSERT INTO {p}customer_tag (customer_id, tag_id) SELECT DISTINCT :keep, t.tag_id "
         f"FROM {p}customer_tag t WHERE t.customer_id IN :others AND t.tag_id NOT IN "
         f"(SELECT k.tag_id FROM {p}customer_tag k WHERE k.customer_id = :keep)"),
        ("ownership_events",
         f"UPDATE {p}ownership_event SET customer_id = :keep WHERE customer_id IN :others"),
        ("audit_events",
         f"UPDATE {p}audit_event SET entity_id = :keep "
         f"WHERE entity = 'customer' AND entity_id IN :others"),
        (None, f"UPDATE {p}merged_customer SET merged_into = :keep WHERE merged_into IN :others"),
        (None, f"DELETE FROM {p}merged_customer WHERE id IN :others"),
        (None,
         f"INSERT INTO {p}merged_customer (id, merged_into, merged_at, merged_by_id) "
         f"SELECT c.id, :keep, :at, :actor FROM {p}customer c WHERE c.id IN :others"),
        ("customers", f"DELETE FROM {p}customer WHERE id IN :others"),
    ]


class MergeOps(CustomerOps):
    """``merge_customers`` and ``duplicate_pairs``."""

    # --- crm merge ----------------------------------------------------------------------------

    def merge_customers(self, actor: Actor, keep_id: int, other_ids: Iterable[int]) -> MergeResult:
        """Merge ``other_ids`` into ``keep_id`` (the owner of all of them, a manager of their
        owners, or an admin; open-sea customers: a manager or an admin)."""
        others = list(dict.fromkeys(int(i) for i in other_ids))
        if not others:
            raise UsageError("Name at least one customer to merge into the one kept.")
        if keep_id in others:
            raise UsageError(f"Customer {keep_id} cannot be merged into itself.")
        if len(others) > MERGE_LIMIT:
            raise UsageError(f"Merge at most {MERGE_LIMIT} customers at once.")
        with self.write() as conn:
            ids = sorted([keep_id, *others])
            conn.execute(select(customer_t.c.id).where(customer_t.c.id.in_(ids))
                         .order_by(customer_t.c.id).with_for_update()).all()
            rows = {cid: self._visible_customer_row(conn, actor, cid) for cid in [keep_id, *others]}
            for cid in [keep_id, *others]:
                self._may_merge(conn, actor, rows[cid])
            keep = rows[keep_id]
            filled, kept_apart, values = self._combined_values(keep, [rows[o] for o in others])
            now = self.clock.now()
            moved = self._run_moves(conn, actor, keep_id, others, now)
            if moved.pop("customers", 0) != len(others):
                raise PermissionDenied("The database refused to remove the merged customers; "
                                       "nothing was merged.")
            values.update(
                search_text=self._search_text(conn, keep_id, _Fields(keep, values)),
                match_key=match_key(keep.name, keep.kind, values.get("company", keep.company)),
                updated_at=now, updated_by_id=actor.id, version=customer_t.c.version + 1,
            )
            conn.execute(update(customer_t).where(customer_t.c.id == keep_id).values(**values))
            audited: dict[str, tuple[Any, Any]] = {
                "merged": (None, ", ".join(f"#{o} {rows[o].name}" for o in others)),
            }
            audited.update({name: (None, value) for name, value in filled.items()})
            self._audit(conn, actor, "customer", keep_id, "merge", audited, at=now)
            self._changed(conn, [keep_id, *others])
            fresh = conn.execute(customer_select().where(customer_t.c.id == keep_id)).one()
            record = self._records(conn, [fresh], actor)[0]
            return MergeResult(kept=record, merged_ids=others, filled=filled,
                               kept_apart=kept_apart, moved=moved)

    def _may_merge(self, conn: Connection, actor: Actor, row: Any) -> None:
        if row.owner_id is None:
            if actor.is_manager:
                return
            where = "is in the open sea (claim it first)"
        else:
            if self.may_manage(conn, actor, row.owner_id):
                return
            where = f"belongs to {row.owner_name or row.owner_login} ({row.owner_login})"
        raise PermissionDenied(
            "Only the owner of every customer merged, a manager of their owners or an admin "
            f"may merge them: customer {row.id} {where}."
        )

    @staticmethod
    def _combined_values(
        keep: Any, others: Sequence[Any]
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, Any]]:
        """KEEP's new column values: empty fields filled, differing values kept apart."""
        current = {name: getattr(keep, name) for name in FILLED_FIELDS}
        extra = dict(keep.extra or {})
        filled: dict[str, Any] = {}
        kept_apart: dict[str, dict[str, Any]] = {}
        last = [keep.last_follow_up_at]
        upcoming = [keep.next_follow_up_at]
        for row in others:
            apart: dict[str, Any] = {}
            if row.name != keep.name:
                apart["name"] = row.name
            for name in FILLED_FIELDS:
                value = getattr(row, name)
                if value in (None, ""):
                    continue
                if current[name] in (None, ""):
                    current[name] = filled[name] = value
                elif current[name] != value:
                    apart[name] = value
            for key, value in (row.extra or {}).items():
                if key not in extra:
                    extra[key] = value
                elif extra[key] != value:
                    apart[f"extra.{key}"] = value
            if apart:
                kept_apart[f"merged #{row.id}"] = apart
                extra[f"merged #{row.id}"] = apart
            last.append(row.last_follow_up_at)
            upcoming.append(row.next_follow_up_at)
        values: dict[str, Any] = {name: current[name] for name in filled}
        if extra != (keep.extra or {}):
            values["extra"] = extra
        known_last = [at for at in last if at is not None]
        if known_last and max(known_last) != keep.last_follow_up_at:
            values["last_follow_up_at"] = max(known_last)
        if keep.next_follow_up_at is None:
            known_next = [day for day in upcoming if day is not None]
            if known_next:
                values["next_follow_up_at"] = min(known_next)
        return filled, kept_apart, values

    def _run_moves(
        self, conn: Connection, actor: Actor, keep_id: int, others: list[int], at: Any
    ) -> dict[str, int]:
        """Run ``merge_moves``: here, or through ``crm_merge`` where row-level security holds
        this session (the function checks the caller and runs the same statements)."""
        if self.rls_applies(conn):
            try:
                counts = conn.execute(
                    text("SELECT crm_merge(CAST(:keep AS integer), "
                         "CAST(:others AS integer[]), :at)")
                    .bindparams(bindparam("at", type_=merged_t.c.merged_at.type)),
                    {"keep": keep_id, "others": others, "at": at},
                ).scalar()
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) != "42501":
                    raise
                reason = str(exc.orig).strip().splitlines()[0]
                raise PermissionDenied(f"The database refused the merge: {reason}.") from exc
            return {name: int(count) for name, count in dict(counts or {}).items()}
        moved: dict[str, int] = {}
        params = {"keep": keep_id, "others": others, "actor": actor.id, "at": at}
        for counted, sql in merge_moves():
            statement = text(sql)
            if ":others" in sql:
                statement = statement.bindparams(bindparam("others", expanding=True))
            if ":at" in sql:
                statement = statement.bindparams(bindparam("at", type_=merged_t.c.merged_at.type))
            count = conn.execute(statement, {k: v for k, v in params.items()
                                             if f":{k}" in sql}).rowcount
            if counted:
                moved[counted] = count
        return moved

    # --- crm duplicates -----------------------------------------------------------------------

    def duplicate_pairs(self, actor: Actor, limit: int = 50) -> list[DuplicatePair]:
        """Likely duplicates among the customers ``actor`` may see, the likeliest first: pairs
        sharing a phone, an email, or a name at one company (``duplicates.match_reasons``)."""
        visible = self.visible(actor)
        members: dict[int, Any] = {}
        groups: list[list[int]] = []
        with self.read() as conn:
            for column in (customer_t.c.phone, customer_t.c.email, customer_t.c.match_key):
                shared = (select(column).where(column.is_not(None), visible)
                          .group_by(column).having(func.count() > 1))
                by_value: dict[Any, list[int]] = {}
                for row in conn.execute(
                    select(customer_t.c.id, customer_t.c.name, customer_t.c.kind,
                           customer_t.c.company, customer_t.c.phone, customer_t.c.email,
                           customer_t.c.match_key, column.label("shared"))
                    .where(column.in_(shared), visible).order_by(customer_t.c.id)
                ):
                    members[row.id] = row
                    by_value.setdefault(row.shared, []).append(row.id)
                groups += [ids[:GROUP_LIMIT] for ids in by_value.values()]
        pairs: dict[tuple[int, int], DuplicatePair] = {}
        for ids in groups:
            for index, first in enumerate(ids):
                for second in ids[index + 1:]:
                    if (first, second) not in pairs:
                        pair = _pair(members[first], members[second])
                        if pair is not None:
                            pairs[(first, second)] = pair
        ranked = sorted(pairs.values(), key=lambda p: (-p.score, p.first_id, p.second_id))
        return ranked[:max(0, limit)]


def _keys(row: Any) -> DuplicateKeys:
    return DuplicateKeys(row.phone, row.email, row.match_key, row.name)


def _pair(first: Any, second: Any) -> DuplicatePair | None:
    reasons = match_reasons(_keys(first), _keys(second))
    if not reasons:
        return None
    from rapidfuzz import fuzz

    from crm_tui.store import validate

    nearness = fuzz.ratio(validate.name_key(first.name), validate.name_key(second.name))
    score = PAIR_BASE[reasons[0]] + 5 * (len(reasons) - 1) + round(nearness / 10)
    return DuplicatePair(first.id, first.name, second.id, second.name, min(100, score),
                         [REASON_TEXT[reason] for reason in reasons])


class _Fields:
    """KEEP's name, company, phone and email after the merge (what the search tokens read)."""

    def __init__(self, keep: Any, values: dict[str, Any]) -> None:
        self.name = keep.name
        self.company = values.get("company", keep.company)
        self.phone = values.get("phone", keep.phone)
        self.email = values.get("email", keep.email)
