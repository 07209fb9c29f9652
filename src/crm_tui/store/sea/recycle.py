"""Recycling (DESIGN §4): owned customers past their deadline return to the open sea.

``deadlines.recycle_deadline`` decides (the same function *Due today* and the portrait use; SQL
only narrows the candidates), and ``UPDATE … WHERE (id, version, owner_id) IN (…)`` moves them,
so a customer changed meanwhile (a follow-up logged, a deal won, another recycle run) is left
alone and two concurrent runs move each customer once. Rows someone else holds are skipped and
left to the next run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, exists, func, select, tuple_, update

from crm_tui.store.db.base import customer_t, owner_rep, setting_t
from crm_tui.store.db.history import audit_row, ownership_row
from crm_tui.store.records import Actor
from crm_tui.store.reports import RecycleItem
from crm_tui.store.schema.tables import deal as deal_t
from crm_tui.store.sea.deadlines import RecycleDeadline, recycle_deadline, recycles_by
from crm_tui.store.sea.moves import Moves, locked_in_id_order
from crm_tui.store.team import settings as rules_mod

RECYCLE_BATCH = 500
"""Customers examined (and moved) per write transaction when recycling."""
RECYCLE_STALE_AFTER = timedelta(hours=1)
"""The app recycles at start when the last run is older than this."""

RULE_MEANING = {
    "recycle_after_days": "no follow-up for {days} days",
    "recycle_no_deal_days": "no won deal {days} days after the claim",
}


def recycle_reason(rule: str, days: Any) -> str:
    """The reason a rule's move records: ``recycled: no follow-up for 30 days (rule
    recycle_after_days)``. The event has no actor; ``present/portrait.py`` reads the rule back
    from this sentence to say "recycled by rule …" (and the open-sea panel says "by rule")."""
    return f"recycled: {RULE_MEANING[rule].format(days=days)} (rule {rule})"


class RecycleOps(Moves):
    """The recycle rules applied, by cron (``crm recycle``) or by the app at start."""

    def recycle(
        self,
        actor: Actor | None = None,
        *,
        dry_run: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[RecycleItem]:
        """Apply the recycle rules: owned customers past their deadline go to the open sea.

        ``deadlines.recycle_deadline`` decides each customer. Idempotent, and safe while another
        run goes on (each customer moves once). ``actor`` is the rep running it (None: cron);
        it must be active, and a dry run lists only the customers ``actor`` may see. The moves
        themselves are the system's, whoever runs them (the app runs this at start as whoever
        opened it): their ownership events, audit rows and ``updated_by`` name no rep, and the
        reason names the rule (``recycle_reason``). A real run lists everything it moved (it
        is all in the open sea now). ``progress(done, total)`` is called after each batch.
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
                        self._put_setting(conn, rules_mod.LAST_RECYCLE_KEY, now.isoformat())
                    break
                after_id = rows[-1].id
                examined += len(rows)
                due = [(row, deadline) for row in rows
                       if (deadline := self._deadline(row, rules)) is not None and deadline.at <= now]
                if dry_run:
                    results += [RecycleItem(row.id, row.name, row.owner_login, d.rule, d.at)
                                for row, d in due]
                elif due:
                    results += self._recycle_rows(conn, due, now)
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

    def _recycle_candidates(
        self, rules: dict[str, Any], now: datetime, visible_to: Actor | None
    ) -> Select[Any]:
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
        self, conn: Connection, due: list[tuple[Any, RecycleDeadline]], now: datetime,
    ) -> list[RecycleItem]:
        """Move the decided customers unless they changed since they were read; the rule moves
        them, so no rep is the actor of the events (``actor_id`` null, the rule in the reason)."""
        rules = self.rules(conn)
        items: list[RecycleItem] = []
        for rule in sorted({deadline.rule for _, deadline in due}):
            group = [(row, deadline) for row, deadline in due if deadline.rule == rule]
            reason = recycle_reason(rule, rules.get(rule))
            keys = [(row.id, row.version, row.owner_id) for row, _ in group]
            unchanged = [
                tuple_(customer_t.c.id, customer_t.c.version, customer_t.c.owner_id).in_(keys),
                customer_t.c.locked.is_(False),
            ]
            moved = set(conn.execute(
                update(customer_t)
                .where(*unchanged, locked_in_id_order(*unchanged, skip_locked=True))
                .values(owner_id=None, claimed_at=None, pool_entered_at=now, released_by_id=None,
                        release_reason=reason, next_follow_up_at=None, updated_at=now,
                        updated_by_id=None, version=customer_t.c.version + 1)
                .returning(customer_t.c.id)
            ).scalars())
            done = [(row, deadline) for row, deadline in group if row.id in moved]
            if not done:
                continue
            # Each customer leaves its own owner: the rows differ in from_rep_id and old.
            self._write_history(
                conn,
                ownership=[ownership_row(row.id, "recycled", None, row.owner_id, None, reason, now)
                           for row, _ in done],
                audit=[audit_row(None, "customer", row.id, "recycle", now, "owner",
                                 row.owner_login, None) for row, _ in done],
            )
            items += [RecycleItem(row.id, row.name, row.owner_login, d.rule, d.at) for row, d in done]
        if items:
            self._changed(conn, [item.customer_id for item in items])
        items.sort(key=lambda item: item.customer_id)
        return items

