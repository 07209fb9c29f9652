"""The manager's dashboard (and ``crm stats``): per-rep work, the pipeline, value, the open sea.

Who sees what is decided here, never in a screen: a rep's dashboard covers their own private
sea and deals, a manager's the reps of their team, an admin's every rep; the open sea's size and
its weekly inflow and outflow are public (everyone may browse the open sea).

Every figure is an aggregate query over indexed columns, so the whole dashboard stays within
its budget on a million customers (``bench/bench_dashboard.py``): customers grouped by owner and
tier (owned, tier, recycle soon; the won-deal test of the recycle rule runs only for customers
whose dates already qualify), overdue and follow-ups per rep as counted index ranges
(``ix_customer_owner_next``, ``ix_follow_up_rep_at``), one pass over the deals for the pipeline
and the month's wins, the won deals for RFM, and counted ranges of the ownership indexes for the
open sea's weeks. The sections are independent and run on parallel connections
(``StatsOps.dashboard``): the two scans that carry most of the cost, customers and RFM, overlap.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, case, func, or_, select
from sqlalchemy.pool import SingletonThreadPool, StaticPool
from sqlalchemy.sql import ColumnElement

from crm_tui.store.analytics import value as analytics
from crm_tui.store.db.base import StoreBase, customer_select, customer_t, ownership_t, rep_t
from crm_tui.store.domain import OPEN_STAGES, STAGE_PROBABILITY, STAGES, TIERS
from crm_tui.store.records import Actor
from crm_tui.store.reports import (
    ClaimStatus,
    Dashboard,
    PoolNotes,
    PoolStats,
    PoolWeek,
    RepStats,
    StageStats,
)
from crm_tui.store.schema.tables import deal as deal_t
from crm_tui.store.schema.tables import follow_up as follow_up_t
from crm_tui.store.sea.deadlines import recycles_by

POOL_WEEKS = 8
"""Weeks of open-sea inflow and outflow the dashboard shows (the current week last)."""
RFM_SEGMENTS = ("champion", "loyal", "new", "promising", "at risk", "dormant", "prospect")
"""The segments ``analytics.rfm_segment`` names, best first (always listed, zero or not)."""
RFM_COUNT_CAP = 10
"""Won-deal counts are grouped up to this many: the RFM frequency thresholds lie below it."""
NO_TIER = "none"
"""The key under which customers without a value tier are counted."""

CENT = Decimal("0.01")


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


DASHBOARD_WORKERS = max(1, min(3, _usable_cores()))
"""Threads the dashboard's sections run on: one per core, and no more than three (two scans
carry most of the cost; the small sections fill in behind them)."""


# --- records ----------------------------------------------------------------------------------


# --- the queries ------------------------------------------------------------------------------


class StatsOps(StoreBase):
    """The dashboard's figures, scoped to what the acting rep may see."""

    def dashboard(self, actor: Actor) -> Dashboard:
        """The whole dashboard for ``actor``.

        Its sections (customers, follow-ups, deals, RFM, the open sea) share nothing but the
        reps in scope and the rules, so they run at the same time on ``DASHBOARD_WORKERS``
        threads, each on its own connection and in its own read transaction (both drivers let
        other threads run while a statement executes). Each section is one consistent snapshot;
        two sections may be a few milliseconds apart, which a claim landing meanwhile can show
        as a one-customer difference between, say, the tiers and the RFM segments (each of
        which adds up on its own: RFM counts its own prospects)."""
        with self.read() as conn:
            rules = self.rules(conn)
            scope, reps = self._stats_reps(conn, actor)
        rep_ids = [rep.id for rep in reps]
        lines = {rep.id: RepStats(login=rep.login, name=rep.name) for rep in reps}
        # Each section writes only its own fields of the shared rep lines. Largest first, so
        # the two costly scans start at once and the small ones fill in behind them.
        tiers, rfm, _, pipeline, open_sea = self._in_parallel(
            lambda conn: self._customer_figures(conn, actor, rep_ids, rules, lines),
            lambda conn: self._rfm(conn, actor, rep_ids),
            lambda conn: self._follow_up_figures(conn, rep_ids, lines),
            lambda conn: self._deal_figures(conn, actor, rep_ids, lines),
            self._pool_figures,
        )
        return Dashboard(
            scope=scope,
            team=actor.team if scope == "team" else None,
            generated_at=self.clock.now(),
            reps=list(lines.values()),
            pipeline=pipeline,
            tiers=tiers,
            rfm=rfm,
            open_sea=open_sea,
        )

    def _in_parallel(self, *sections: Callable[[Connection], Any]) -> list[Any]:
        """Run each section in its own read transaction, on up to ``DASHBOARD_WORKERS`` threads;
        the results in the order given. Sequential where connections cannot be spread over
        threads (an in-memory SQLite database lives in one connection)."""

        def run(section: Callable[[Connection], Any]) -> Any:
            with self._section_read() as conn:
                return section(conn)

        workers = min(DASHBOARD_WORKERS, len(sections))
        if workers <= 1 or isinstance(self.engine.pool, SingletonThreadPool | StaticPool):
            return [run(section) for section in sections]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crm-dashboard") as pool:
            futures = [pool.submit(run, section) for section in sections]
            try:
                return [future.result() for future in futures]
            except BaseException:
                pool.shutdown(cancel_futures=True)  # don't start the sections still waiting
                raise

    @contextmanager
    def _section_read(self) -> Iterator[Connection]:
        """The read transaction one section of the dashboard runs in."""
        with self.read() as conn:
            if not self.is_sqlite:
                # work_mem: RFM hashes the won customers against the customers; with
                # PostgreSQL's default 4 MB the hash spills to disk (0.78 s at 1M against 0.47 s).
                # No parallel workers: the sections already run side by side, and workers on top
                # only add processes to start and coordinate (at 1M on 2 cores, 1.2-1.3 s with
                # them against 0.7-1.0 s without). No JIT: compiling the per-owner scan's
                # expressions cost 17 ms of a 0.7 s query that runs once. One round trip for all.
                conn.exec_driver_sql(
                    "SELECT set_config('work_mem', '64MB', true),"
                    " set_config('max_parallel_workers_per_gather', '0', true),"
                    " set_config('jit', 'off', true)"
                )
            yield conn

    def claim_status(self, actor: Actor) -> ClaimStatus:
        """My private-sea size and today's claims, against ``private_cap`` and ``daily_claim_limit``."""
        with self.read() as conn:
            rules = self.rules(conn)
            owned = self._count(conn, customer_t.c.owner_id == actor.id)
            claimed_today = int(conn.execute(
                select(func.count()).select_from(ownership_t).where(
                    ownership_t.c.to_rep_id == actor.id, ownership_t.c.kind == "claimed",
                    ownership_t.c.at >= self.clock.day_start_utc(),
                )
            ).scalar() or 0)
        return ClaimStatus(owned, int(rules["private_cap"]), claimed_today,
                           int(rules["daily_claim_limit"]))

    def pool_notes(self, actor: Actor, customer_ids: Sequence[int]) -> dict[int, PoolNotes]:
        """Days in the pool and the latest follow-up summary of the given open-sea customers.

        Only open-sea customers are answered (whoever asks may see them); other ids are left out.
        """
        ids = sorted({int(i) for i in customer_ids})
        if not ids:
            return {}
        now = self.clock.now()
        latest = (
            select(follow_up_t.c.customer_id, func.max(follow_up_t.c.at).label("at"))
            .where(follow_up_t.c.customer_id.in_(ids))
            .group_by(follow_up_t.c.customer_id)
            .subquery()
        )
        with self.read() as conn:
            pooled = dict(conn.execute(
                select(customer_t.c.id, customer_t.c.pool_entered_at)
                .where(customer_t.c.id.in_(ids), customer_t.c.owner_id.is_(None))
            ).all())
            summaries: dict[int, str] = {}
            for customer_id, summary in conn.execute(
                select(follow_up_t.c.customer_id, follow_up_t.c.summary)
                .join(latest, and_(latest.c.customer_id == follow_up_t.c.customer_id,
                                   latest.c.at == follow_up_t.c.at))
                .order_by(follow_up_t.c.customer_id, follow_up_t.c.id)
            ):
                summaries[customer_id] = summary  # the last logged of equal times wins
        return {
            cid: PoolNotes(cid, (now - entered).days if entered else None,
                           summaries.get(cid))
            for cid, entered in pooled.items()
        }

    # --- transfer -----------------------------------------------------------------------------

    def managed_reps(self, actor: Actor) -> list[RepStats]:
        """The reps whose private seas ``actor`` manages (the transfer screen's choices), each with
        its private-sea size; inactive reps are left out."""
        with self.read() as conn:
            _scope, reps = self._stats_reps(conn, actor)
            owned: dict[int, int] = dict(conn.execute(
                select(customer_t.c.owner_id, func.count())
                .where(customer_t.c.owner_id.in_([rep.id for rep in reps]))
                .group_by(customer_t.c.owner_id)
            ).all()) if reps else {}
        return [RepStats(login=rep.login, name=rep.name, owned=int(owned.get(rep.id, 0)))
                for rep in reps if rep.active]

    def _book_conditions(self, conn: Connection, actor: Actor, login: str, query: Any) -> list[Any]:
        owner_id = self._rep_by_login(conn, login).id
        conditions = self._list_conditions(actor, query)  # type: ignore[attr-defined]  # ListingOps's, beside this mixin in Store
        return [*conditions, customer_t.c.owner_id == owner_id, self.visible(actor)]

    def book_count(self, actor: Actor, login: str, query: Any) -> int:
        """How many customers of rep ``login``'s private sea match ``query`` (a ``ListQuery``;
        its scope is ignored) among those ``actor`` may see."""
        with self.read() as conn:
            conditions = self._book_conditions(conn, actor, login, query.with_(scope="all"))
            return int(conn.execute(
                select(func.count()).select_from(customer_t).where(*conditions)
            ).scalar() or 0)

    def book_page(self, actor: Actor, login: str, query: Any, offset: int, limit: int) -> list[Any]:
        """Rows ``offset`` .. ``offset + limit`` of rep ``login``'s private sea, as ``book_count``."""
        from crm_tui.store.search.listing import SORTABLE

        column = SORTABLE.get(query.sort, customer_t.c.name)
        order = [column.desc() if query.descending else column.asc(),
                 customer_t.c.id.desc() if query.descending else customer_t.c.id.asc()]
        with self.read() as conn:
            conditions = self._book_conditions(conn, actor, login, query.with_(scope="all"))
            rows = conn.execute(
                customer_select().where(*conditions).order_by(*order)
                .offset(max(0, offset)).limit(limit)
            ).all()
            return self._records(conn, rows, actor)

    # --- scope --------------------------------------------------------------------------------

    def _stats_reps(self, conn: Connection, actor: Actor) -> tuple[str, Sequence[Any]]:
        """The reps whose figures ``actor`` may see, mirroring ``visible``: all (admin), the team
        (a manager with a team), or the actor alone."""
        statement = select(rep_t.c.id, rep_t.c.login, rep_t.c.name, rep_t.c.active)
        if actor.is_admin:
            scope = "all"
        elif actor.role == "manager" and actor.team:
            scope = "team"
            statement = statement.where(or_(rep_t.c.team == actor.team, rep_t.c.id == actor.id))
        else:
            scope = "own"
            statement = statement.where(rep_t.c.id == actor.id)
        reps: Sequence[Any] = conn.execute(statement.order_by(rep_t.c.login)).all()
        if scope == "all":
            owners = {owner for owner, in conn.execute(
                select(customer_t.c.owner_id).where(customer_t.c.owner_id.is_not(None)).distinct()
            )} if any(not rep.active for rep in reps) else set()
            reps = [rep for rep in reps if rep.active or rep.id in owners]
        return scope, reps

    def _owned_by(self, actor: Actor, rep_ids: Sequence[int]) -> list[ColumnElement[bool]]:
        """Customers in the private seas of ``rep_ids`` that ``actor`` may see."""
        if actor.is_admin:
            return [customer_t.c.owner_id.is_not(None)]
        return [customer_t.c.owner_id.in_(list(rep_ids)), self.visible(actor)]

    # --- customers ----------------------------------------------------------------------------

    def _customer_figures(
        self, conn: Connection, actor: Actor, rep_ids: Sequence[int], rules: dict[str, Any],
        lines: dict[int, RepStats],
    ) -> dict[str, int]:
        """Owned and recycle-soon per rep and customers per tier in one grouped scan of
        ``ix_customer_owner_stats``; overdue per rep from one range of ``ix_customer_owner_next``
        per rep (counting index entries in a range costs a tenth of testing each entry)."""
        tiers = {tier: 0 for tier in TIERS} | {NO_TIER: 0}
        if not rep_ids:
            return tiers
        today = self.clock.today()
        horizon = self.clock.now() + timedelta(days=int(rules["recycle_warn_days"]))
        statement = (
            select(
                customer_t.c.owner_id,
                customer_t.c.tier,
                func.count().label("owned"),
                func.sum(case((recycles_by(horizon, rules, whole_book=_team_or_more(actor)), 1),
                              else_=0)).label("recycle_soon"),
            )
            .where(*self._owned_by(actor, rep_ids))
            .group_by(customer_t.c.owner_id, customer_t.c.tier)
        )
        for row in conn.execute(statement):
            tier = row.tier if row.tier in tiers else NO_TIER
            tiers[tier] += int(row.owned)
            line = lines.get(row.owner_id)
            if line is None:  # an owner outside the listed reps (an admin sees it in the tiers)
                continue
            line.owned += int(row.owned)
            line.recycle_soon += int(row.recycle_soon or 0)
        in_scope: list[ColumnElement[bool]] = [customer_t.c.owner_id.in_(list(rep_ids))]
        if not actor.is_admin:
            in_scope.append(self.visible(actor))
        for owner_id, overdue in conn.execute(
            select(customer_t.c.owner_id, func.count())
            .where(*in_scope, customer_t.c.next_follow_up_at < today)
            .group_by(customer_t.c.owner_id)
        ):
            lines[owner_id].overdue = int(overdue)
        return tiers

    # --- follow-ups ---------------------------------------------------------------------------

    def _follow_up_figures(
        self, conn: Connection, rep_ids: Sequence[int], lines: dict[int, RepStats]
    ) -> None:
        """Follow-ups per rep in the last 7 and 30 days: two ranges of ``ix_follow_up_rep_at``
        per rep (the 23 days before the week, and the week), counted without testing rows."""
        if not rep_ids:
            return
        now = self.clock.now()
        week_ago, month_ago = now - timedelta(days=7), now - timedelta(days=30)
        at = follow_up_t.c.at

        def per_rep(*window: ColumnElement[bool]) -> dict[int, int]:
            return {rep_id: int(count) for rep_id, count in conn.execute(
                select(follow_up_t.c.rep_id, func.count())
                .where(follow_up_t.c.rep_id.in_(list(rep_ids)), *window)
                .group_by(follow_up_t.c.rep_id)
            )}

        earlier = per_rep(at >= month_ago, at < week_ago)
        last_week = per_rep(at >= week_ago, at <= now)
        for rep_id, line in lines.items():
            line.follow_ups_7d = last_week.get(rep_id, 0)
            line.follow_ups_30d = earlier.get(rep_id, 0) + line.follow_ups_7d

    # --- deals --------------------------------------------------------------------------------

    def _deal_figures(
        self, conn: Connection, actor: Actor, rep_ids: Sequence[int], lines: dict[int, RepStats]
    ) -> list[StageStats]:
        """The pipeline by stage (deals owned by the reps in scope; an admin: every deal) and
        each rep's wins this month.

        Both read the covering index ``ix_deal_stage_stats`` (stage, closed, customer, owner,
        amount) in its order: the pipeline streams through it grouped by stage, the month's wins
        are one range of it. For one rep, ``ix_deal_owner_stage`` finds their few deals instead.
        """
        owner: ColumnElement[Any] = deal_t.c.owner_id
        if _team_or_more(actor):
            # "owner_id + 0" keeps SQLite's planner off ix_deal_owner_stage: for a team it
            # would look up every deal of a third of the reps in the table for its amount
            # (0.22 s at 1M against 0.05 s for reading the covering index through).
            owner = owner + 0
        in_scope = [] if actor.is_admin else [owner.in_(list(rep_ids))]
        counts = dict.fromkeys(STAGES, 0)
        amounts = dict.fromkeys(STAGES, Decimal("0"))
        for stage, count, amount in conn.execute(
            select(deal_t.c.stage, func.count(), func.sum(deal_t.c.amount))
            .where(*in_scope).group_by(deal_t.c.stage)
        ):
            if stage in counts:
                counts[stage], amounts[stage] = int(count), _decimal(amount)
        pipeline = {
            stage: StageStats(stage, counts[stage], amounts[stage].quantize(CENT),
                              (amounts[stage] * STAGE_PROBABILITY[stage]).quantize(CENT))
            for stage in STAGES
        }
        month_start = self.clock.day_start_utc(self.clock.today().replace(day=1))
        for owner_id, won, amount in conn.execute(
            select(deal_t.c.owner_id, func.count(), func.sum(deal_t.c.amount))
            .where(*in_scope, deal_t.c.stage == "won", deal_t.c.closed_at >= month_start)
            .group_by(deal_t.c.owner_id)
        ):
            line = lines.get(owner_id)
            if line is not None:
                line.won_this_month = int(won)
                line.won_amount_this_month = _decimal(amount).quantize(CENT)
        return [pipeline[stage] for stage in (*OPEN_STAGES, "won", "lost")]

    # --- value --------------------------------------------------------------------------------

    def _rfm(self, conn: Connection, actor: Actor, rep_ids: Sequence[int]) -> dict[str, int]:
        """Customers in scope per RFM segment.

        ``analytics.rfm_segment`` decides, as for the portrait: SQL groups the customers with won
        deals by what the function reads (won count, recency bucket, tier), and the function
        names the segment of each group, so the rule is written once. The customers without a
        won deal (prospects) are the rest of the customers in scope, counted in this section's
        own transaction so that the segments add up to the customers it saw.
        """
        segments = dict.fromkeys(RFM_SEGMENTS, 0)
        if not rep_ids:
            return segments
        owned_total = self._count(conn, *self._owned_by(actor, rep_ids))
        if not owned_total:
            return segments
        now = self.clock.now()
        recent_cut = now - timedelta(days=analytics.RECENT_DAYS)
        lapsed_cut = now - timedelta(days=getattr(analytics, "LAPSED_DAYS", 365))
        if _team_or_more(actor):
            # A team or the whole book: sum the won deals per customer from ix_deal_stage_stats first,
            # then look up each such customer's owner and tier.
            per_customer = (
                select(
                    deal_t.c.customer_id,
                    func.count().label("n"),
                    func.max(deal_t.c.closed_at).label("last_won"),
                )
                .where(deal_t.c.stage == "won")
                .group_by(deal_t.c.customer_id)
                .subquery()
            )
            won = (
                select(per_customer.c.n, per_customer.c.last_won, customer_t.c.tier)
                .select_from(per_customer.join(
                    customer_t, customer_t.c.id == per_customer.c.customer_id))
                .where(*self._owned_by(actor, rep_ids))
                .subquery()
            )
        else:
            # One rep or a team: start from their customers and probe their deals.
            won = (
                select(
                    func.count().label("n"),
                    func.max(deal_t.c.closed_at).label("last_won"),
                    customer_t.c.tier,
                )
                .select_from(customer_t.join(deal_t, deal_t.c.customer_id == customer_t.c.id))
                .where(deal_t.c.stage == "won", *self._owned_by(actor, rep_ids))
                .group_by(customer_t.c.id, customer_t.c.tier)
                .subquery()
            )
        count = case((won.c.n >= RFM_COUNT_CAP, RFM_COUNT_CAP), else_=won.c.n).label("n")
        recency = case(
            (won.c.last_won.is_(None), 0),
            (won.c.last_won >= recent_cut, 1),
            (won.c.last_won >= lapsed_cut, 2),
            else_=3,
        ).label("recency")
        # A moment inside each recency bucket, for the function to judge.
        moments = {0: None, 1: now, 2: recent_cut - timedelta(days=1),
                   3: lapsed_cut - timedelta(days=1)}
        for n, bucket, tier, customers in conn.execute(
            select(count, recency, won.c.tier, func.count())
            .select_from(won)
            .group_by(count, recency, won.c.tier)
        ):
            name = analytics.rfm_segment(int(n), moments[int(bucket)], now, tier)
            segments[name] = segments.get(name, 0) + int(customers)
        segments["prospect"] += owned_total - sum(segments.values())
        return segments

    # --- the open sea -------------------------------------------------------------------------

    def _pool_figures(self, conn: Connection) -> PoolStats:
        """The open sea's size, and per week the customers that entered it (created there,
        released, recycled: events with no receiving rep) and left it (claimed, or assigned
        from it: events with no giving rep). Each side reads one of the ownership indexes
        (``to_rep_id, kind, at`` and ``from_rep_id, kind, at``) without touching the table."""
        today = self.clock.today()
        monday = today - timedelta(days=today.weekday())
        weeks = [monday - timedelta(weeks=back) for back in range(POOL_WEEKS - 1, -1, -1)]
        bounds = [self.clock.day_start_utc(week) for week in weeks]
        bounds.append(self.clock.day_start_utc(monday + timedelta(weeks=1)))
        at = ownership_t.c.at
        # One count per week and side, each a range of an index counted without testing its
        # entries (summing a CASE per week over every entry cost ten times as much); all of
        # them, and the sea's size, in one statement.
        sides = [
            (ownership_t.c.to_rep_id.is_(None),
             ownership_t.c.kind.in_(("created", "released", "recycled"))),
            (ownership_t.c.from_rep_id.is_(None),
             ownership_t.c.kind.in_(("claimed", "assigned", "transferred"))),
        ]
        counts = [
            select(func.count()).select_from(ownership_t)
            .where(*side, at >= start, at < end).scalar_subquery()
            for side in sides for start, end in zip(bounds, bounds[1:], strict=False)
        ]
        size = select(func.count()).select_from(customer_t).where(
            customer_t.c.owner_id.is_(None)).scalar_subquery()
        size_value, *values = (int(value or 0) for value in conn.execute(select(size, *counts)).one())
        inflow, outflow = values[:POOL_WEEKS], values[POOL_WEEKS:]
        return PoolStats(size_value, [
            PoolWeek(week, inflow[index], outflow[index]) for index, week in enumerate(weeks)
        ])


def _team_or_more(actor: Actor) -> bool:
    """Whether the dashboard covers a team or everyone (set-based queries pay off) rather than
    one rep's book (probing that rep's few customers is cheaper)."""
    return actor.is_admin or (actor.role == "manager" and bool(actor.team))


def _decimal(value: Any) -> Decimal:
    if value is None:
        return Decimal("0")
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))
