"""Claiming an open-sea customer (DESIGN §4, §11): the store's hot path.

The rep's own transactions are serialised first (the rep-row lock of ``team/identity.py``,
taken by the claim's first read on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises
writers), so the cap, the daily limit and the cooldown count what is committed; then one
``UPDATE customer … WHERE id = ? AND owner_id IS NULL RETURNING …`` takes the customer or
finds it taken. On PostgreSQL the events ride in the same statement (``WITH claimed AS
(UPDATE …) INSERT …``): a claim's round trips are the pool's pre-ping, the first read, the
counts (only while the cap or the daily limit is on), the claim and the commit, so 16 clients
can share two cores (``bench/bench_claims.py``). The events are the same rows on both
backends (``claim_events``), and they carry the customer's open deals to the claimer
(``db/history.py``): one more ``UPDATE`` on SQLite, a CTE of the same statement on PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, lru_cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Integer, Select, String, bindparam, func, select, update
from sqlalchemy.sql.expression import BindParameter

from crm_tui.store.db.base import (
    CUSTOMER_COLUMNS,
    audit_t,
    customer_t,
    customer_tag_t,
    ownership_t,
    rep_t,
    setting_t,
    tag_t,
)
from crm_tui.store.db.history import (
    Row,
    audit_row,
    deals_that_follow,
    insert_selecting,
    ownership_row,
)
from crm_tui.store.errors import NotFound, RuleRefused
from crm_tui.store.records import Actor, CustomerRecord
from crm_tui.store.sea.caps import check_private_cap
from crm_tui.store.sea.moves import Moves, local_day, who
from crm_tui.store.team import settings as rules_mod
from crm_tui.store.team.identity import locking_rep

CLAIM_RACE_WINDOW = timedelta(minutes=5)
"""How long after a customer left the open sea a refused claimer is told who took it: long
enough for anyone who saw it in the open sea (a list on screen, a claim race lost by seconds),
short enough that trying ids one after another cannot list who owns which customer. Outside
it, and for customers that were never in the open sea, a claim of another rep's customer is
answered as for any customer out of reach: the very sentence ``show`` gives (``_missing``), so
the two cannot be told apart."""


# The customer's own columns a CustomerRecord is built from (CUSTOMER_COLUMNS minus joins).
RECORD_COLUMNS = [column for column in CUSTOMER_COLUMNS if getattr(column, "table", None) is customer_t]


def claim_events(customer_id: Any, claimer_id: Any, claimer_login: Any, at: Any) -> dict[str, list[Row]]:
    """The history a claim writes, as ``History._write_history`` takes it: the ownership event
    and the audit of the new owner. Values, or SQL expressions for the PostgreSQL statement."""
    return dict(
        ownership=[ownership_row(customer_id, "claimed", claimer_id, None, claimer_id, None, at)],
        audit=[audit_row(claimer_id, "customer", customer_id, "claim", at, "owner", None,
                         claimer_login)],
    )


# --- the claim's statements, built once: a claim is the hot path -------------------------------

_CLAIM = (
    update(customer_t)
    .where(customer_t.c.id == bindparam("cid"), customer_t.c.owner_id.is_(None))
    .values(owner_id=bindparam("claimer"), claimed_at=bindparam("at"), pool_entered_at=None,
            released_by_id=None, release_reason=None, locked=False, updated_at=bindparam("at"),
            updated_by_id=bindparam("claimer"), version=customer_t.c.version + 1)
    .returning(*RECORD_COLUMNS)
)
"""The claim itself: takes the customer only while it is in the open sea."""


@cache
def _claim_in_one_statement() -> Select[Any]:
    """PostgreSQL: the claim, its events and the customer's tags at once.

    ``WITH claimed AS (UPDATE … RETURNING …), event AS (INSERT … SELECT FROM claimed), …
    SELECT claimed.*, tags``: the same conditional UPDATE as ``_CLAIM``, with ``claim_events``
    riding in the same round trip (written only when the UPDATE took the customer).
    """
    claimed = _CLAIM.cte("claimed")
    events = claim_events(
        claimed.c.id, bindparam("claimer", type_=Integer), bindparam("login", type_=String),
        bindparam("at", type_=ownership_t.c.at.type),
    )
    tables = {"ownership": ownership_t, "audit": audit_t}
    writes = [
        insert_selecting(tables[kind], row).cte(f"{kind}_{n}")
        for kind, rows in events.items() for n, row in enumerate(rows)
    ]
    # The claimed customer's open deals come along (the one rule, db/history.py), in the
    # same statement: no round trip is added to the hot path.
    writes += [statement.cte(f"deals_{n}")
               for n, statement in enumerate(deals_that_follow(events["ownership"]))]
    # PostgreSQL-only statement; its dialect is imported here so SQLite users never load it.
    from sqlalchemy.dialects.postgresql import aggregate_order_by

    tags = (
        select(func.array_agg(aggregate_order_by(tag_t.c.name, tag_t.c.name)))
        .join(customer_tag_t, customer_tag_t.c.tag_id == tag_t.c.id)
        .where(customer_tag_t.c.customer_id == claimed.c.id)
        .scalar_subquery()
    )
    return select(*claimed.c, tags.label("tags")).add_cte(*writes)


def _claimer_statement(postgresql: bool) -> Select[Any]:
    """A claim's first read: the claimer's row (locked on PostgreSQL), whether the customer is
    there to see and whose it is, when this rep last let it go, and (PostgreSQL) the rules."""
    me: BindParameter[int] = bindparam("me")
    cid: BindParameter[int] = bindparam("cid")
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
    return locking_rep(statement) if postgresql else statement


_CLAIMER = {True: _claimer_statement(True), False: _claimer_statement(False)}


@lru_cache(maxsize=4)
def _claimer_counts(cap: bool, daily_limit: bool) -> Select[Any]:
    """How many customers the claimer owns and has claimed today (as the rules need them)."""
    me: BindParameter[int] = bindparam("me")
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


@dataclass(frozen=True)
class _ClaimFacts:
    owner_id: int | None
    active: bool
    owned: int
    claimed_today: int
    cooled_at: datetime | None


class ClaimOps(Moves):
    """Taking open-sea customers into a private sea."""

    def claim(self, customer_id: int, actor: Actor) -> CustomerRecord:
        """Take an open-sea customer into ``actor``'s private sea, atomically.

        When several reps claim one customer at once exactly one wins; the others are refused
        with "already claimed by X" (``_may_be_told_owner``: a customer of another rep that
        was not in the open sea moments ago is ``NotFound``, as for ``show``). Refused too: an inactive rep, a full private sea
        (``private_cap``), the day's claims used up (``daily_claim_limit``) and a customer this
        rep released or lost to recycling within ``reclaim_cooldown_days``.
        """
        cid = customer_id
        with self.write() as conn:
            now = self.clock.now()
            rules, facts = self._claim_facts(conn, actor, cid, now)
            if facts is None:
                raise self._missing(conn, actor, cid)
            if not facts.active:
                raise RuleRefused(
                    "active", f"The rep {actor.login} is deactivated and cannot claim customers."
                )
            if facts.owner_id is not None:
                raise self._taken_now(conn, cid, actor, now)
            check_private_cap(facts.owned, int(rules["private_cap"]))
            limit = int(rules["daily_claim_limit"])
            if limit > 0 and facts.claimed_today >= limit:
                raise RuleRefused(
                    "daily_claim_limit",
                    f"You have made {facts.claimed_today} of {limit} claims today; claim again "
                    "tomorrow (rule daily_claim_limit).",
                )
            if facts.cooled_at is not None:
                raise self._cooling(conn, cid, actor, facts.cooled_at,
                                    int(rules["reclaim_cooldown_days"]))
            params = {"cid": cid, "claimer": actor.id, "at": now, "login": actor.login}
            if self.is_sqlite:
                won = conn.execute(_CLAIM, params).first()
            else:
                won = conn.execute(_claim_in_one_statement(), params).first()
            if won is None:
                # Another rep's claim committed between our read and our update (PostgreSQL).
                raise self._taken_now(conn, cid, actor, now)
            if self.is_sqlite:
                self._write_history(conn, **claim_events(cid, actor.id, actor.login, now))
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

        The first read takes the claimer's row lock (``locking_rep``; SQLite's write
        transaction already holds its lock) and, on PostgreSQL, the rules with it. The cap and
        daily-limit counts, when those rules are on, are read by a second statement: under READ
        COMMITTED it takes a fresh snapshot after the lock, so it counts every claim of this rep
        committed before. A customer this connection may not see (a colleague's, under
        row-level security) is looked up with ``customer_owner``, so it is "already claimed by
        X", not "not found".
        """
        row = conn.execute(_CLAIMER[not self.is_sqlite], {"me": actor.id, "cid": customer_id}).first()
        if self.is_sqlite:
            rules = self.rules(conn)
        else:
            rules = rules_mod.rule_values(((row.settings if row is not None else None) or {}).items())
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

    def _cooling(
        self, conn: Connection, customer_id: int, actor: Actor, cooled_at: datetime, days: int
    ) -> RuleRefused:
        """The refusal of a re-claim within ``reclaim_cooldown_days``: how it left, and when
        the rep may claim it again."""
        kind = conn.execute(
            select(ownership_t.c.kind)
            .where(ownership_t.c.customer_id == customer_id, ownership_t.c.from_rep_id == actor.id,
                   ownership_t.c.kind.in_(("released", "recycled")),
                   ownership_t.c.at == cooled_at)
        ).scalar()
        how = "was recycled from your private sea" if kind == "recycled" else "was released by you"
        return RuleRefused(
            "reclaim_cooldown_days",
            f"Customer {customer_id} {how} on {local_day(cooled_at)}; you may claim it "
            f"again from {local_day(cooled_at + timedelta(days=days))} (rule reclaim_cooldown_days).",
        )

    def _taken_now(
        self, conn: Connection, customer_id: int, actor: Actor, now: datetime
    ) -> RuleRefused | NotFound:
        """The refusal for a customer someone owns: who it is, and nothing else about it, where
        the claimer may know (``_may_be_told_owner``); otherwise the answer for any customer out
        of reach, the sentence ``show`` gives."""
        owner = self.customer_owner(conn, customer_id)
        if owner is None:
            return self._missing(conn, actor, customer_id)
        if owner.owner_id is None:
            return RuleRefused(
                "taken", f"Customer {customer_id} changed hands while you claimed it; try again."
            )
        if owner.owner_id == actor.id:
            return RuleRefused("taken", f"Customer {customer_id} is already in your private sea.")
        # Under row-level security ``customer_owner`` (crm_customer_owner) has applied the same
        # rule inside the database, where the history it needs is readable.
        if not self.rls_applies(conn) and not self._may_be_told_owner(
            conn, customer_id, actor, owner.owner_id, now
        ):
            return self._missing(conn, actor, customer_id)
        return RuleRefused(
            "taken",
            f"Customer {customer_id} is already claimed by {who(owner.owner_name, owner.owner_login)}.",
        )

    def _may_be_told_owner(
        self, conn: Connection, customer_id: int, actor: Actor, owner_id: int, now: datetime
    ) -> bool:
        """Whether a refused claimer may learn who owns the customer (issue 14 item 2).

        Only where they could have seen it anyway: in a private sea they see (their team's, as
        a manager; any, as an admin), or in the open sea moments ago, that is, it left the open
        sea (claimed, or assigned from it) within ``CLAIM_RACE_WINDOW``. That covers every
        claim race, whose losers raced within seconds, and nothing else: claiming id after id
        does not list the owners of customers that were never in the caller's reach.

        Under PostgreSQL row-level security a rep cannot read another rep's customer's history,
        so there the owner is named only where ``customer_owner`` (a SECURITY DEFINER function)
        and these events let it; anything else is out of reach.
        """
        if self.may_manage(conn, actor, owner_id):
            return True
        left = conn.execute(
            select(ownership_t.c.id)
            .where(ownership_t.c.customer_id == customer_id, ownership_t.c.from_rep_id.is_(None),
                   ownership_t.c.to_rep_id.is_not(None), ownership_t.c.kind != "created",
                   ownership_t.c.at >= now - CLAIM_RACE_WINDOW)
            .limit(1)
        ).first()
        return left is not None
