"""Open sea and private sea: claim, release, lock, recycle, transfer (DESIGN §4).

Every move is one transaction whose last word is a conditional UPDATE, so the database and
not the client decides who wins a race:

- **claim**: the rep's own transactions are serialised first (a ``FOR NO KEY UPDATE`` lock on
  the rep's row on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises writers), so
  the cap, the daily limit and the cooldown count what is committed; then one
  ``UPDATE customer … WHERE id = ? AND owner_id IS NULL RETURNING …`` takes the customer or
  finds it taken. On PostgreSQL the events ride in the same statement (``WITH claimed AS
  (UPDATE …) INSERT …``): a claim is six round trips, the pool's pre-ping included, so 16
  clients can share two cores (``bench/bench_claims.py``).
- **recycle**: ``deadlines.recycle_deadline`` decides (the same function *Due today* and the
  portrait use; SQL only narrows the candidates), and ``UPDATE … WHERE (id, version, owner_id)
  IN (…)`` moves them, so a customer changed meanwhile (a follow-up logged, a deal won, another
  recycle run) is left alone and two concurrent runs move each customer once.
- **multi-row moves** (transfer, deactivation, recycling) lock their rows in id order, so they
  wait for each other instead of deadlocking; recycling skips rows someone else holds.

Every move writes an ``ownership_event`` and is announced (PostgreSQL NOTIFY) after it
commits; every refusal is a ``RuleRefused`` naming its rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, lru_cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    String,
    bindparam,
    exists,
    func,
    insert,
    literal,
    null,
    select,
    tuple_,
    update,
)

from crm_tui.store import validate
from crm_tui.store.db.base import (
    CUSTOMER_COLUMNS,
    StoreBase,
    audit_t,
    customer_select,
    customer_t,
    customer_tag_t,
    owner_rep,
    ownership_t,
    rep_t,
    setting_t,
    tag_t,
)
from crm_tui.store.domain import OPEN_STAGES
from crm_tui.store.errors import NotFound, PermissionDenied, RuleRefused, UsageError
from crm_tui.store.records import Actor, CustomerRecord
from crm_tui.store.reports import PoolEntry, RecycleItem, TransferResult
from crm_tui.store.schema.tables import deal as deal_t
from crm_tui.store.sea.deadlines import RecycleDeadline, recycle_deadline, recycles_by
from crm_tui.store.team import settings as rules_mod

RECYCLE_BATCH = 500
"""Customers examined (and moved) per write transaction when recycling."""
RECYCLE_STALE_AFTER = timedelta(hours=1)
"""The app recycles at start when the last run is older than this."""
_ID_CHUNK = 2000
"""Ids per ``IN (...)`` list: well inside SQLite's and PostgreSQL's parameter limits."""

# The customer's own columns a CustomerRecord is built from (base.CUSTOMER_COLUMNS minus joins).
RECORD_COLUMNS = [column for column in CUSTOMER_COLUMNS if getattr(column, "table", None) is customer_t]

RULE_MEANING = {
    "recycle_after_days": "no follow-up for {days} days",
    "recycle_no_deal_days": "no won deal {days} days after the claim",
}


# --- records ----------------------------------------------------------------------------------


# --- helpers ----------------------------------------------------------------------------------


def _customer_and_actor(first: Any, second: Any) -> tuple[int, Actor]:
    """Accept ``(customer_id, actor)`` as DESIGN §2 writes it, or the store's usual ``(actor, id)``."""
    if isinstance(first, Actor):
        first, second = second, first
    if not isinstance(second, Actor):
        raise UsageError("A store operation needs the acting rep.")
    try:
        return int(first), second
    except (TypeError, ValueError):
        raise UsageError(f"{first!r} is not a customer id.") from None


def _who(name: str | None, login: str | None) -> str:
    """How a rep is named in a sentence: ``Alice Wang (alice)``, or the login alone."""
    if not login:
        return "someone"
    if name and name != login:
        return f"{name} ({login})"
    return login


def _chunks(ids: Sequence[int], size: int = _ID_CHUNK) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _local_day(moment: datetime) -> str:
    return moment.astimezone().date().isoformat()


def _locked_in_id_order(*conditions: Any, skip_locked: bool = False) -> Any:
    """``customer.id IN (SELECT id … ORDER BY id FOR NO KEY UPDATE)`` for a multi-row move.

    PostgreSQL then locks the rows in id order, so two moves of overlapping customers (a
    transfer and a deactivation, say) wait for each other instead of deadlocking; recycling
    passes ``skip_locked`` and leaves a customer someone is busy with to its next run. SQLite
    (which serialises writers anyway) ignores the locking clause.
    """
    return customer_t.c.id.in_(
        select(customer_t.c.id).where(*conditions).order_by(customer_t.c.id)
        .with_for_update(key_share=True, skip_locked=skip_locked)
    )


# --- the claim's statements, built once: a claim is the hot path (bench/bench_claims.py) -----

_CLAIM = (
    update(customer_t)
    .where(customer_t.c.id == bindparam("cid"), customer_t.c.owner_id.is_(None))
    .values(owner_id=bindparam("claimer"), claimed_at=bindparam("at"), pool_entered_at=None,
            released_by_id=None, release_reason=None, locked=False, updated_at=bindparam("at"),
            updated_by_id=bindparam("claimer"), version=customer_t.c.version + 1)
    .returning(*RECORD_COLUMNS)
)
"""The claim itself: takes the customer only while it is in the open sea."""
_OWNERSHIP_ROW = insert(ownership_t)
_AUDIT_ROW = insert(audit_t)
_TAGS = (
    select(tag_t.c.name).join(customer_tag_t, customer_tag_t.c.tag_id == tag_t.c.id)
    .where(customer_tag_t.c.customer_id == bindparam("cid")).order_by(tag_t.c.name)
)


@cache
def _claim_in_one_statement() -> Select[Any]:
    """PostgreSQL: the claim, its ownership and audit events and the customer's tags at once.

    ``WITH claimed AS (UPDATE … RETURNING …), event AS (INSERT … SELECT FROM claimed),
    audit AS (INSERT …) SELECT claimed.*, tags``: the same conditional UPDATE as ``_CLAIM``,
    with everything that follows it riding in the same round trip (the events are written
    only when the UPDATE took the customer).
    """
    claimed = _CLAIM.cte("claimed")
    claimer = bindparam("claimer", type_=Integer)
    at = bindparam("at", type_=ownership_t.c.at.type)
    event = insert(ownership_t).from_select(
        ["customer_id", "kind", "actor_id", "from_rep_id", "to_rep_id", "reason", "at"],
        select(claimed.c.id, literal("claimed"), claimer, null(), claimer, null(), at),
    ).cte("event")
    audit = insert(audit_t).from_select(
        ["actor_id", "entity", "entity_id", "action", "field", "old", "new", "at"],
        select(claimer, literal("customer"), claimed.c.id, literal("claim"), literal("owner"),
               null(), bindparam("login", type_=String), at),
    ).cte("audit")
    # PostgreSQL-only statement; its dialect is imported here so SQLite users never load it.
    from sqlalchemy.dialects.postgresql import aggregate_order_by

    tags = (
        select(func.array_agg(aggregate_order_by(tag_t.c.name, tag_t.c.name)))
        .join(customer_tag_t, customer_tag_t.c.tag_id == tag_t.c.id)
        .where(customer_tag_t.c.customer_id == claimed.c.id)
        .scalar_subquery()
    )
    return select(*claimed.c, tags.label("tags")).add_cte(event, audit)


_LOCK_REP = select(rep_t.c.id).where(rep_t.c.id == bindparam("rep")).with_for_update(key_share=True)


def _claimer_statement(postgresql: bool) -> Select[Any]:
    """A claim's first read: the claimer's row (locked on PostgreSQL), whether the customer is
    there to see and whose it is, when this rep last let it go, and (PostgreSQL) the rules."""
    me, cid = bindparam("me"), bindparam("cid")
    target = customer_t.alias("target")
    columns: list[Any] = [
        rep_t.c.active,
        select(func.count()).select_from(target).where(target.c.id == cid)
        .scalar_subquery().label("seen"),
        select(target.c.owner_id).where(target.c.id == cid).scalar_subquery().label("owner_id"),
        select(func.max(ownership_t.c.at))
        .where(ownership_t.c.customer_id == cid, ownership_t.c.from_rep_id == me,
               ownership_t.c.kind.in_(("released", "recycled")))
        .scalar_subquery().label("let_go_at"),
    ]
    if postgresql:
        columns.append(
            select(func.json_object_agg(setting_t.c.key, setting_t.c.value))
            .scalar_subquery().label("settings")
        )
    statement = select(*columns).where(rep_t.c.id == me)
    return statement.with_for_update(of=rep_t, key_share=True) if postgresql else statement


_CLAIMER = {True: _claimer_statement(True), False: _claimer_statement(False)}


@lru_cache(maxsize=4)
def _claimer_counts(cap: bool, daily_limit: bool) -> Select[Any]:
    """How many customers the claimer owns and has claimed today (as the rules need them)."""
    me = bindparam("me")
    columns: list[Any] = []
    if cap:
        columns.append(
            select(func.count()).select_from(customer_t).where(customer_t.c.owner_id == me)
            .scalar_subquery().label("owned")
        )
    if daily_limit:
        columns.append(
            select(func.count()).select_from(ownership_t)
            .where(ownership_t.c.to_rep_id == me, ownership_t.c.kind == "claimed",
                   ownership_t.c.at >= bindparam("day_start"))
            .scalar_subquery().label("claimed_today")
        )
    return select(*columns)


class SeaOps(StoreBase):
    """The ownership rules; every move writes an ownership_event."""

    # --- claim --------------------------------------------------------------------------------

    def claim(self, customer_id: int | Actor, actor: Actor | int) -> CustomerRecord:
        """Take an open-sea customer into ``actor``'s private sea, atomically.

        When several reps claim one customer at once exactly one wins; the others are refused
        with "already claimed by X". Refused too: an inactive rep, a full private sea
        (``private_cap``), the day's claims used up (``daily_claim_limit``) and a customer this
        rep released or lost to recycling within ``reclaim_cooldown_days``.
        """
        cid, actor = _customer_and_actor(customer_id, actor)
        with self.write() as conn:
            now = self.clock.now()
            rules, facts = self._claim_facts(conn, actor, cid, now)
            if facts is None:
                raise NotFound(f"There is no customer {cid}.")
            if not facts.active:
                raise RuleRefused(
                    "active", f"The rep {actor.login} is deactivated and cannot claim customers."
                )
            if facts.owner_id is not None:
                raise self._taken_now(conn, cid, actor)
            cap = int(rules["private_cap"])
            if cap > 0 and facts.owned + 1 > cap:
                raise RuleRefused(
                    "private_cap",
                    f"Your private sea is full: {facts.owned} of {cap} customers (rule private_cap).",
                )
            limit = int(rules["daily_claim_limit"])
            if limit > 0 and facts.claimed_today >= limit:
                raise RuleRefused(
                    "daily_claim_limit",
                    f"You have made {facts.claimed_today} of {limit} claims today; claim again "
                    "tomorrow (rule daily_claim_limit).",
                )
            if facts.cooled_at is not None:
                days = int(rules["reclaim_cooldown_days"])
                ends = facts.cooled_at + timedelta(days=days)
                kind = conn.execute(
                    select(ownership_t.c.kind)
                    .where(ownership_t.c.customer_id == cid, ownership_t.c.from_rep_id == actor.id,
                           ownership_t.c.kind.in_(("released", "recycled")),
                           ownership_t.c.at == facts.cooled_at)
                ).scalar()
                how = "was recycled from your private sea" if kind == "recycled" \
                    else "was released by you"
                raise RuleRefused(
                    "reclaim_cooldown_days",
                    f"Customer {cid} {how} on {_local_day(facts.cooled_at)}; you may claim it "
                    f"again from {_local_day(ends)} (rule reclaim_cooldown_days).",
                )
            params = {"cid": cid, "claimer": actor.id, "at": now, "login": actor.login}
            if self.is_sqlite:
                won = conn.execute(_CLAIM, params).first()
            else:
                won = conn.execute(_claim_in_one_statement(), params).first()
            if won is None:
                # Another rep's claim committed between our read and our update (PostgreSQL).
                raise self._taken_now(conn, cid, actor)
            if self.is_sqlite:
                conn.execute(_OWNERSHIP_ROW, dict(customer_id=cid, kind="claimed", actor_id=actor.id,
                                                  from_rep_id=None, to_rep_id=actor.id, reason=None,
                                                  at=now))
                conn.execute(_AUDIT_ROW, dict(actor_id=actor.id, entity="customer", entity_id=cid,
                                              action="claim", field="owner", old=None,
                                              new=actor.login, at=now))
                tags = self._tags(conn, cid)
            else:
                tags = list(won.tags or [])
            self._changed(conn, [cid])
            # The claimer is the owner and nobody released it: no join needed for the record.
            record = {key: value for key, value in won._mapping.items() if key != "tags"}
            return self._record(
                SimpleNamespace(**record, owner_login=actor.login, owner_name=actor.name,
                                released_by_login=None),
                tags, False,
            )

    def _claim_facts(
        self, conn: Connection, actor: Actor, customer_id: int, now: datetime
    ) -> tuple[dict[str, Any], _ClaimFacts | None]:
        """The rules, and everything a claim decides on; no facts when there is no customer.

        The first read takes the claimer's row lock (``FOR NO KEY UPDATE``, as
        ``_lock_rep_row``; SQLite's write transaction already holds its lock) and, on
        PostgreSQL, the rules with it. The cap and daily-limit counts, when those rules are on,
        are read by a second statement: under READ COMMITTED it takes a fresh snapshot after
        the lock, so it counts every claim of this rep committed before. A customer this
        connection may not see (a colleague's, under row-level security) is looked up with
        ``customer_owner``, so it is "already claimed by X", not "not found".
        """
        row = conn.execute(_CLAIMER[not self.is_sqlite], {"me": actor.id, "cid": customer_id}).first()
        if self.is_sqlite:
            rules = self.rules(conn)
        else:
            rules = {key: spec.default for key, spec in rules_mod.RULES.items()}
            for key, raw in ((row.settings if row is not None else None) or {}).items():
                if key in rules:
                    rules[key] = rules_mod.decode(key, raw)
        if row is None or not row.seen:
            owner = self.customer_owner(conn, customer_id)
            if owner is None:
                return rules, None
            return rules, _ClaimFacts(owner.owner_id, bool(row is not None and row.active), 0, 0,
                                      None)
        cap, limit = int(rules["private_cap"]) > 0, int(rules["daily_claim_limit"]) > 0
        counts: dict[str, Any] = {}
        if cap or limit:
            counts = dict(conn.execute(
                _claimer_counts(cap, limit),
                {"me": actor.id, "day_start": self.clock.day_start_utc()},
            ).one()._mapping)
        days = int(rules["reclaim_cooldown_days"])
        cooled_at = row.let_go_at if (
            days > 0 and row.owner_id is None and row.let_go_at is not None
            and row.let_go_at > now - timedelta(days=days)
        ) else None
        return rules, _ClaimFacts(row.owner_id, bool(row.active), int(counts.get("owned") or 0),
                                  int(counts.get("claimed_today") or 0), cooled_at)

    def _taken_now(self, conn: Connection, customer_id: int, actor: Actor) -> RuleRefused:
        """The refusal for a customer someone owns: who it is, and nothing else about it."""
        owner = self.customer_owner(conn, customer_id)
        if owner is None or owner.owner_id is None:
            return RuleRefused(
                "taken", f"Customer {customer_id} changed hands while you claimed it; try again."
            )
        if owner.owner_id == actor.id:
            return RuleRefused("taken", f"Customer {customer_id} is already in your private sea.")
        return RuleRefused(
            "taken",
            f"Customer {customer_id} is already claimed by {_who(owner.owner_name, owner.owner_login)}.",
        )

    # --- release ------------------------------------------------------------------------------

    def release(
        self, customer_id: int | Actor, actor: Actor | int, reason: str | None = None
    ) -> CustomerRecord:
        """Return a customer to the open sea, with a reason (required while
        ``require_release_reason`` is on; one of ``release_reasons`` or free text).

        The owner may release, and so may a manager of the owner's team or an admin. The
        customer's planned next follow-up is cleared (it was the old owner's plan); its history
        stays. The releasing rep may not re-claim it within ``reclaim_cooldown_days``.
        """
        cid, actor = _customer_and_actor(customer_id, actor)
        clean_reason = validate.text("reason", reason, limit=500)
        with self.write() as conn:
            self._require_active(conn, actor)
            row = self._visible_customer_row(conn, actor, cid)
            if row.owner_id is None:
                raise RuleRefused("open_sea", f"Customer {cid} is already in the open sea.")
            if not self.may_manage(conn, actor, row.owner_id):
                raise PermissionDenied(
                    f"Customer {cid} belongs to {row.owner_login}: only they or a manager of their "
                    "team may release it."
                )
            if clean_reason is None and self.rule(conn, "require_release_reason"):
                choices = ", ".join(self.rule(conn, "release_reasons"))
                raise RuleRefused(
                    "require_release_reason",
                    f"Releasing needs a reason, such as {choices}, or your own words "
                    "(rule require_release_reason).",
                )
            moved = self._to_pool(conn, actor, [cid], row.owner_id, clean_reason, kind="released")
            if not moved:
                # Recycled, transferred or released by someone else since it was read.
                owner = self.customer_owner(conn, cid)
                if owner is not None and owner.owner_id is None:
                    raise RuleRefused("open_sea", f"Customer {cid} is already in the open sea.")
                raise RuleRefused(
                    "taken", f"Customer {cid} changed hands while you released it; nothing was done."
                )
            return self._fresh_record(conn, actor, cid)

    def release_reasons(self) -> list[str]:
        """The pick-list offered when releasing (free text is allowed beside it)."""
        with self.read() as conn:
            return list(self.rule(conn, "release_reasons"))

    def _to_pool(
        self,
        conn: Connection,
        actor: Actor | None,
        customer_ids: Sequence[int],
        from_id: int,
        reason: str | None,
        *,
        kind: str,
    ) -> list[int]:
        """Move customers of rep ``from_id`` to the open sea; returns the ids actually moved."""
        now = self.clock.now()
        moved: list[int] = []
        for chunk in _chunks(list(customer_ids)):
            owned = [customer_t.c.id.in_(chunk), customer_t.c.owner_id == from_id]
            statement = update(customer_t).where(*owned, _locked_in_id_order(*owned))
            moved += conn.execute(
                statement.values(
                    owner_id=None, claimed_at=None, pool_entered_at=now,
                    released_by_id=actor.id if actor else None, release_reason=reason,
                    locked=False, next_follow_up_at=None, updated_at=now,
                    updated_by_id=actor.id if actor else None, version=customer_t.c.version + 1,
                ).returning(customer_t.c.id)
            ).scalars().all()
        if moved:
            self._ownership(conn, moved, kind, actor, from_id, None, reason, at=now)
            self._audit_owner_change(conn, actor, moved, kind, from_id, None)
            self._changed(conn, moved)
        return moved

    # --- lock ---------------------------------------------------------------------------------

    def lock(self, customer_id: int | Actor, actor: Actor | int) -> CustomerRecord:
        """Mark a key account: exempt from recycling, at most ``lock_cap`` per rep (0: none)."""
        cid, actor = _customer_and_actor(customer_id, actor)
        return self._set_locked(cid, actor, True)

    def unlock(self, customer_id: int | Actor, actor: Actor | int) -> CustomerRecord:
        """Make a key account an ordinary customer again (recycling applies to it)."""
        cid, actor = _customer_and_actor(customer_id, actor)
        return self._set_locked(cid, actor, False)

    def _set_locked(self, customer_id: int, actor: Actor, locked: bool) -> CustomerRecord:
        verb = "lock" if locked else "unlock"
        with self.write() as conn:
            self._require_active(conn, actor)
            row = self._visible_customer_row(conn, actor, customer_id)
            if row.owner_id is None:
                raise RuleRefused(
                    "open_sea", f"Customer {customer_id} is in the open sea: claim it before you {verb} it."
                )
            if not self.may_manage(conn, actor, row.owner_id):
                raise PermissionDenied(
                    f"Customer {customer_id} belongs to {row.owner_login}: only they or a manager "
                    f"of their team may {verb} it."
                )
            if bool(row.locked) == locked:
                return self._records(conn, [row], actor)[0]
            if locked:
                self._lock_rep_row(conn, row.owner_id)
                cap = int(self.rule(conn, "lock_cap"))
                held = self._count(conn, customer_t.c.owner_id == row.owner_id,
                                   customer_t.c.locked.is_(True))
                whose = "You hold" if row.owner_id == actor.id else f"{row.owner_login} holds"
                if cap == 0:
                    raise RuleRefused("lock_cap", "Locking is off: lock_cap is 0 (rule lock_cap).")
                if held + 1 > cap:
                    raise RuleRefused(
                        "lock_cap",
                        f"{whose} {held} of {cap} locked customers; unlock one first (rule lock_cap).",
                    )
            now = self.clock.now()
            changed = conn.execute(
                update(customer_t)
                .where(customer_t.c.id == customer_id, customer_t.c.owner_id == row.owner_id)
                .values(locked=locked, updated_at=now, updated_by_id=actor.id,
                        version=customer_t.c.version + 1)
                .returning(customer_t.c.id)
            ).first()
            if changed is None:
                raise RuleRefused(
                    "taken", f"Customer {customer_id} changed hands while you tried to {verb} it."
                )
            self._audit(conn, actor, "customer", customer_id, verb, {"locked": (not locked, locked)})
            self._changed(conn, [customer_id])
            return self._owned_record(conn, customer_id)

    # --- recycle ------------------------------------------------------------------------------

    def recycle(
        self,
        actor: Actor | None = None,
        *,
        dry_run: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[RecycleItem]:
        """Apply the recycle rules: owned customers past their deadline go to the open sea.

        ``deadlines.recycle_deadline`` decides each customer. Idempotent, and safe while another
        run goes on (each customer moves once). ``actor`` is the rep running it (None: the
        system, such as cron). A dry run moves nothing and lists only the customers ``actor``
        may see; a real run lists everything it moved (it is all in the open sea now).
        ``progress(done, total)`` is called after each batch.
        """
        if actor is not None:
            with self.read() as conn:
                self._require_active(conn, actor)
        total = self._recycle_candidate_count(actor if dry_run else None)
        results: list[RecycleItem] = []
        after_id = 0
        examined = 0
        while True:
            with (self.read() if dry_run else self.write()) as conn:
                rules = self.rules(conn)
                now = self.clock.now()
                rows = conn.execute(
                    self._recycle_candidates(rules, now, actor if dry_run else None)
                    .where(customer_t.c.id > after_id)
                    .order_by(customer_t.c.id)
                    .limit(RECYCLE_BATCH)
                ).all()
                if not rows:
                    if not dry_run:
                        self._put_state(conn, rules_mod.LAST_RECYCLE_KEY, now.isoformat())
                    break
                after_id = rows[-1].id
                examined += len(rows)
                due = [(row, deadline) for row in rows
                       if (deadline := self._deadline(row, rules)) is not None and deadline.at <= now]
                if dry_run:
                    results += [RecycleItem(row.id, row.name, row.owner_login, d.rule, d.at)
                                for row, d in due]
                elif due:
                    results += self._recycle_rows(conn, actor, due, now)
            if progress is not None:
                progress(min(examined, max(total, examined)), max(total, examined))
        return results

    def recycle_if_stale(self, actor: Actor | None = None) -> list[RecycleItem] | None:
        """Recycle when the last run is over an hour old (the app calls this at start).

        Returns what moved, or None when a recent run made this one unnecessary.
        """
        last = self.last_recycle_at()
        if last is not None and self.clock.now() - last < RECYCLE_STALE_AFTER:
            return None
        return self.recycle(actor)

    def last_recycle_at(self) -> datetime | None:
        """When recycling last finished, or None if it never ran."""
        with self.read() as conn:
            raw = conn.execute(
                select(setting_t.c.value).where(setting_t.c.key == rules_mod.LAST_RECYCLE_KEY)
            ).scalar()
        if raw is None:
            return None
        try:
            return datetime.fromisoformat(rules_mod.decode(rules_mod.LAST_RECYCLE_KEY, raw))
        except (TypeError, ValueError):
            return None

    @staticmethod
    def _deadline(row: Any, rules: dict[str, Any]) -> RecycleDeadline | None:
        return recycle_deadline(
            claimed_at=row.claimed_at, last_follow_up_at=row.last_follow_up_at,
            locked=bool(row.locked), has_won_deal=bool(row.has_won), rules=rules,
        )

    def _recycle_candidates(self, rules: dict[str, Any], now: datetime, visible_to: Actor | None):
        """A SELECT of owned customers that may be past a recycle deadline.

        It only narrows the search (a superset of what ``recycle_deadline`` recycles, and on
        the same facts); the function decides. ``tests/test_sea.py`` checks the two agree.
        """
        has_won = exists().where(deal_t.c.customer_id == customer_t.c.id, deal_t.c.stage == "won")
        claimed, last = customer_t.c.claimed_at, customer_t.c.last_follow_up_at
        conditions = [customer_t.c.owner_id.is_not(None),
                      recycles_by(now, rules, whole_book=visible_to is None)]
        if visible_to is not None:
            conditions.append(self.visible(visible_to))
        return (
            select(customer_t.c.id, customer_t.c.name, customer_t.c.owner_id, customer_t.c.version,
                   claimed, last, customer_t.c.locked, has_won.label("has_won"),
                   owner_rep.c.login.label("owner_login"))
            .select_from(customer_t.join(owner_rep, owner_rep.c.id == customer_t.c.owner_id))
            .where(*conditions)
        )

    def _recycle_candidate_count(self, visible_to: Actor | None) -> int:
        with self.read() as conn:
            candidates = self._recycle_candidates(self.rules(conn), self.clock.now(), visible_to)
            return int(conn.execute(select(func.count()).select_from(candidates.subquery())).scalar() or 0)

    def _recycle_rows(
        self, conn: Connection, actor: Actor | None, due: list[tuple[Any, RecycleDeadline]],
        now: datetime,
    ) -> list[RecycleItem]:
        """Move the decided customers unless they changed since they were read."""
        rules = self.rules(conn)
        actor_id = actor.id if actor else None
        items: list[RecycleItem] = []
        for rule in sorted({deadline.rule for _, deadline in due}):
            group = [(row, deadline) for row, deadline in due if deadline.rule == rule]
            reason = self._recycle_reason(rule, rules)
            keys = [(row.id, row.version, row.owner_id) for row, _ in group]
            unchanged = [
                tuple_(customer_t.c.id, customer_t.c.version, customer_t.c.owner_id).in_(keys),
                customer_t.c.locked.is_(False),
            ]
            moved = set(conn.execute(
                update(customer_t)
                .where(*unchanged, _locked_in_id_order(*unchanged, skip_locked=True))
                .values(owner_id=None, claimed_at=None, pool_entered_at=now, released_by_id=None,
                        release_reason=reason, next_follow_up_at=None, updated_at=now,
                        updated_by_id=actor_id, version=customer_t.c.version + 1)
                .returning(customer_t.c.id)
            ).scalars())
            done = [(row, deadline) for row, deadline in group if row.id in moved]
            if not done:
                continue
            conn.execute(insert(ownership_t), [
                dict(customer_id=row.id, kind="recycled", actor_id=actor_id,
                     from_rep_id=row.owner_id, to_rep_id=None, reason=reason, at=now)
                for row, _ in done
            ])
            conn.execute(insert(audit_t), [
                dict(actor_id=actor_id, entity="customer", entity_id=row.id, action="recycle",
                     field="owner", old=row.owner_login, new=None, at=now)
                for row, _ in done
            ])
            items += [RecycleItem(row.id, row.name, row.owner_login, d.rule, d.at) for row, d in done]
        if items:
            self._changed(conn, [item.customer_id for item in items])
        items.sort(key=lambda item: item.customer_id)
        return items

    @staticmethod
    def _recycle_reason(rule: str, rules: dict[str, Any]) -> str:
        days = rules.get(rule)
        return f"recycled: {RULE_MEANING[rule].format(days=days)} (rule {rule})"

    # --- transfer and deactivation ------------------------------------------------------------

    def transfer(
        self,
        actor: Actor,
        from_login: str,
        to_login: str,
        customer_ids: Sequence[int] | None = None,
        *,
        all_customers: bool = False,
        reason: str | None = None,
    ) -> TransferResult:
        """Move chosen customers (or all) of one rep to another, with everything they carry.

        Contacts and follow-up history stay with the customer; open deals follow it to the new
        owner at the stage they are in (won and lost deals keep the rep who closed them). The
        new owner's recycle clock starts again (``claimed_at`` is now). A manager may transfer
        between reps of their own team, an admin between any reps. ``private_cap`` does not
        block a transfer: a manager handing over a leaving rep's book must not lose customers
        to a cap; ``over_cap`` in the result says when the receiver is now over it.
        """
        if not actor.is_manager:
            raise PermissionDenied("Only a manager or an admin may transfer customers.")
        ids = list(dict.fromkeys(int(i) for i in customer_ids or []))
        if bool(ids) == bool(all_customers):
            raise UsageError("Name the customers to transfer, or use --all (not both).")
        clean_reason = validate.text("reason", reason, limit=500)
        with self.write() as conn:
            self._require_active(conn, actor)
            source = self._rep_by_login(conn, from_login)
            target = self._rep_by_login(conn, to_login)
            self._check_transfer(actor, source, target)
            self._lock_rep_row(conn, source.id)
            moved = self._transfer(conn, actor, source.id, target.id, ids or None, clean_reason)
            if ids and len(moved) != len(ids):
                missing = next(i for i in ids if i not in set(moved))
                exists_ = conn.execute(select(customer_t.c.id).where(customer_t.c.id == missing)).first()
                if exists_ is None:
                    raise NotFound(f"There is no customer {missing}; nothing was transferred.")
                raise RuleRefused(
                    "owner",
                    f"Customer {missing} is not in {source.login}'s private sea; nothing was transferred.",
                )
            return TransferResult(len(moved), moved, source.login, target.login,
                                  self._over_cap(conn, target.id))

    def _check_transfer(self, actor: Actor, source: Any, target: Any) -> None:
        if source.id == target.id:
            raise UsageError(f"{source.login} already owns these customers: choose another rep.")
        if not target.active:
            raise RuleRefused("active", f"The rep {target.login} is deactivated and cannot receive customers.")
        if actor.is_admin:
            return
        if not actor.team or source.team != actor.team or target.team != actor.team:
            raise PermissionDenied(
                "A manager may transfer customers only between reps of their own team."
            )

    def _transfer(
        self, conn: Connection, actor: Actor, from_id: int, to_id: int,
        customer_ids: Sequence[int] | None, reason: str | None,
    ) -> list[int]:
        now = self.clock.now()
        values = dict(owner_id=to_id, claimed_at=now, updated_at=now, updated_by_id=actor.id,
                      version=customer_t.c.version + 1)
        moved: list[int] = []
        if customer_ids is None:
            moved = list(conn.execute(
                update(customer_t)
                .where(customer_t.c.owner_id == from_id,
                       _locked_in_id_order(customer_t.c.owner_id == from_id))
                .values(**values).returning(customer_t.c.id)
            ).scalars())
        else:
            for chunk in _chunks(list(customer_ids)):
                moved += conn.execute(
                    update(customer_t)
                    .where(customer_t.c.owner_id == from_id,
                           _locked_in_id_order(customer_t.c.id.in_(chunk),
                                               customer_t.c.owner_id == from_id))
                    .values(**values).returning(customer_t.c.id)
                ).scalars().all()
        moved.sort()
        for chunk in _chunks(moved):
            conn.execute(
                update(deal_t)
                .where(deal_t.c.customer_id.in_(chunk), deal_t.c.stage.in_(OPEN_STAGES))
                .values(owner_id=to_id, updated_at=now)
            )
        if moved:
            self._ownership(conn, moved, "transferred", actor, from_id, to_id, reason, at=now)
            self._audit_owner_change(conn, actor, moved, "transfer", from_id, to_id)
            self._changed(conn, moved)
        return moved

    def _over_cap(self, conn: Connection, rep_id: int) -> bool:
        cap = int(self.rule(conn, "private_cap"))
        return cap > 0 and self._count(conn, customer_t.c.owner_id == rep_id) > cap

    def deactivate_rep(
        self,
        actor: Actor,
        login: str,
        *,
        transfer_to: str | None = None,
        to_pool: bool = False,
    ) -> TransferResult:
        """Deactivate a rep (admins only) after moving every customer they own.

        Refused while they own customers and neither ``transfer_to`` (another active rep) nor
        ``to_pool`` says where those go, so a departure never loses a customer. The moves and
        the deactivation are one transaction; claims by the rep wait for it and then fail.
        """
        if not actor.is_admin:
            raise PermissionDenied("Only an admin may deactivate reps.")
        if transfer_to and to_pool:
            raise UsageError("Choose one of --transfer-to LOGIN and --to-pool.")
        with self.write() as conn:
            self._require_active(conn, actor)
            rep = self._rep_by_login(conn, login)
            if rep.id == actor.id:
                raise RuleRefused("permission", "You cannot deactivate yourself; ask another admin.")
            if not rep.active:
                raise UsageError(f"The rep {rep.login} is already deactivated.")
            self._lock_rep_row(conn, rep.id)
            owned = self._count(conn, customer_t.c.owner_id == rep.id)
            target = None
            moved: list[int] = []
            if transfer_to:
                target = self._rep_by_login(conn, transfer_to)
                self._check_transfer(actor, rep, target)
                moved = self._transfer(conn, actor, rep.id, target.id, None,
                                       f"{rep.login} was deactivated")
            elif to_pool:
                ids = list(conn.execute(
                    select(customer_t.c.id).where(customer_t.c.owner_id == rep.id)
                    .order_by(customer_t.c.id)
                ).scalars())
                moved = self._to_pool(conn, actor, ids, rep.id, f"{rep.login} was deactivated",
                                      kind="released")
            elif owned:
                raise RuleRefused(
                    "deactivate",
                    f"{rep.login} owns {owned} customers: move them with --transfer-to LOGIN or "
                    "--to-pool, so none is lost.",
                )
            leftover = self._count(conn, customer_t.c.owner_id == rep.id)
            if leftover:  # pragma: no cover - the rep lock makes this unreachable
                raise RuleRefused("deactivate", f"{rep.login} still owns {leftover} customers.")
            conn.execute(update(rep_t).where(rep_t.c.id == rep.id).values(active=False))
            self._audit(conn, actor, "rep", rep.id, "deactivate", {"active": (True, False)})
            return TransferResult(len(moved), moved, rep.login, target.login if target else None,
                                  self._over_cap(conn, target.id) if target else False)

    # --- rules --------------------------------------------------------------------------------

    def set_rules(self, actor: Actor, values: dict[str, Any]) -> dict[str, Any]:
        """Change settings (managers and admins); each value is validated, each change audited.

        Values may be text as typed (``crm rules --set recycle_after_days=30``) or JSON data.
        Nothing is written unless every value is valid. Returns all rules after the change.
        """
        if not actor.is_manager:
            raise PermissionDenied("Only a manager or an admin may change the rules.")
        if not values:
            raise UsageError("Name at least one setting to change, as KEY=VALUE.")
        parsed = {key.strip(): rules_mod.parse_rule(key.strip(), raw) for key, raw in values.items()}
        with self.write() as conn:
            self._require_active(conn, actor)
            current = self.rules(conn)
            changes = {}
            for key, value in parsed.items():
                if current[key] != value:
                    self._put_state(conn, key, value)
                    changes[key] = (rules_mod.encode(current[key]), rules_mod.encode(value))
            if changes:
                self._audit(conn, actor, "setting", None, "update", changes)
            return self.rules(conn)

    # --- the open sea -------------------------------------------------------------------------

    def pool(
        self, actor: Actor, query: str = "", *, limit: int = 50, offset: int = 0
    ) -> list[PoolEntry]:
        """Open-sea customers (masked while ``mask_pool_contacts``), newest in the pool first or
        best match first for a query, each with its days in the pool."""
        statement = customer_select().where(customer_t.c.owner_id.is_(None))
        condition = self.search_condition(query) if query.strip() else None  # type: ignore[attr-defined]
        if condition is not None:
            statement = statement.where(condition).order_by(
                *self._rank(query), customer_t.c.id  # type: ignore[attr-defined]
            )
        else:
            statement = statement.order_by(
                customer_t.c.pool_entered_at.desc().nulls_last(), customer_t.c.id.desc()
            )
        now = self.clock.now()
        with self.read() as conn:
            rows = conn.execute(statement.limit(limit).offset(max(0, offset))).all()
            records = self._records(conn, rows, actor)
        return [
            PoolEntry(record, (now - record.pool_entered_at).days if record.pool_entered_at else None)
            for record in records
        ]

    # --- shared -------------------------------------------------------------------------------

    def _lock_rep_row(self, conn: Connection, rep_id: int) -> None:
        """``_lock_rep`` with ``FOR NO KEY UPDATE``: it orders this rep's claims, locks and moves,
        yet lets other transactions insert rows that refer to the rep (history, follow-ups),
        which ``FOR UPDATE`` would make wait, and could deadlock against."""
        if not self.is_sqlite:
            conn.execute(_LOCK_REP, {"rep": rep_id})

    def _require_active(self, conn: Connection, actor: Actor) -> None:
        active = conn.execute(select(rep_t.c.active).where(rep_t.c.id == actor.id)).scalar()
        if not active:
            raise RuleRefused("active", f"The rep {actor.login} is deactivated.")

    def _fresh_record(self, conn: Connection, actor: Actor, customer_id: int) -> CustomerRecord:
        row = conn.execute(customer_select().where(customer_t.c.id == customer_id)).one()
        return self._records(conn, [row], actor)[0]

    def _owned_record(self, conn: Connection, customer_id: int) -> CustomerRecord:
        """The record of a customer that has an owner (so nothing is masked): two reads."""
        row = conn.execute(customer_select().where(customer_t.c.id == customer_id)).one()
        return self._record(row, self._tags(conn, customer_id), False)

    @staticmethod
    def _tags(conn: Connection, customer_id: int) -> list[str]:
        return list(conn.execute(_TAGS, {"cid": customer_id}).scalars())

    def _audit_owner_change(
        self, conn: Connection, actor: Actor | None, customer_ids: Sequence[int], action: str,
        from_id: int | None, to_id: int | None,
    ) -> None:
        logins = dict(conn.execute(
            select(rep_t.c.id, rep_t.c.login).where(rep_t.c.id.in_([i for i in (from_id, to_id) if i]))
        ).all())
        at = self.clock.now()
        conn.execute(insert(audit_t), [
            dict(actor_id=actor.id if actor else None, entity="customer", entity_id=cid,
                 action=action, field="owner", old=logins.get(from_id), new=logins.get(to_id), at=at)
            for cid in customer_ids
        ])

    def _put_state(self, conn: Connection, key: str, value: Any) -> None:
        """Upsert one setting; safe when two transactions write the same new key at once."""
        encoded = rules_mod.encode(value)
        if self.is_sqlite:
            from sqlalchemy.dialects.sqlite import insert as upsert
        else:
            from sqlalchemy.dialects.postgresql import insert as upsert  # type: ignore[assignment]
        statement = upsert(setting_t).values(key=key, value=encoded)
        conn.execute(statement.on_conflict_do_update(index_elements=[setting_t.c.key],
                                                     set_={"value": encoded}))


@dataclass(frozen=True)
class _ClaimFacts:
    owner_id: int | None
    active: bool
    owned: int
    claimed_today: int
    cooled_at: datetime | None
