"""The portrait: everything about one customer the acting rep may see, in one read."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from crm_tui.store.analytics.value import AnalyticsOps
from crm_tui.store.db.base import audit_t, ownership_t, rep_t
from crm_tui.store.records import (
    Actor,
    AuditRecord,
    ContactRecord,
    FollowUpRecord,
    OwnershipRecord,
    Portrait,
)
from crm_tui.store.reports import PortraitView
from crm_tui.store.sales.deals import DealOps, deal_t
from crm_tui.store.sales.followups import FollowUpOps, follow_up_t
from crm_tui.store.schema.tables import contact as contact_t
from crm_tui.store.sea.deadlines import recycle_deadline


class PortraitOps(AnalyticsOps, DealOps, FollowUpOps):
    """Assembling the portrait of DESIGN §3."""

    def portrait(self, actor: Actor, customer_id: int, *, history: bool = False,
                 follow_up_limit: int | None = None) -> Portrait:
        with self.read() as conn:
            return self._portrait(conn, actor, customer_id, history, follow_up_limit)

    def portrait_view(self, actor: Actor, customer_id: int, *, history: bool = False,
                      follow_up_limit: int | None = 50) -> PortraitView:
        """The portrait the screen shows: the newest ``follow_up_limit`` follow-ups and the count."""
        with self.read() as conn:
            portrait = self._portrait(conn, actor, customer_id, history, follow_up_limit)
            total = len(portrait.follow_ups)
            if follow_up_limit and total >= follow_up_limit:
                total = int(conn.execute(
                    select(func.count()).select_from(follow_up_t)
                    .where(follow_up_t.c.customer_id == customer_id)
                ).scalar() or 0)
            return PortraitView(portrait, total)

    def _portrait(self, conn: Connection, actor: Actor, customer_id: int, history: bool,
                  follow_up_limit: int | None) -> Portrait:
        row = self._visible_customer_row(conn, actor, customer_id)
        record = self._records(conn, [row], actor)[0]
        contacts = [
            ContactRecord(c.id, c.customer_id, c.name, c.title,
                          None if record.masked and c.phone else c.phone,
                          None if record.masked and c.email else c.email,
                          None if record.masked and c.wechat else c.wechat,
                          bool(c.is_primary))
            for c in conn.execute(
                select(contact_t).where(contact_t.c.customer_id == customer_id)
                .order_by(contact_t.c.is_primary.desc(), contact_t.c.id)
            )
        ]
        follow_query = (
            select(follow_up_t, rep_t.c.login)
            .join(rep_t, rep_t.c.id == follow_up_t.c.rep_id)
            .where(follow_up_t.c.customer_id == customer_id)
            .order_by(follow_up_t.c.at.desc(), follow_up_t.c.id.desc())
        )
        if follow_up_limit:
            follow_query = follow_query.limit(follow_up_limit)
        follow_ups = [
            FollowUpRecord(f.id, f.customer_id, row.name, f.login, f.at, f.channel, f.summary,
                           f.next_at)
            for f in conn.execute(follow_query)
        ]
        deals = [
            self._deal_record(d)
            for d in conn.execute(
                self._deal_select().where(deal_t.c.customer_id == customer_id)
                .order_by(deal_t.c.created_at.desc(), deal_t.c.id.desc())
            )
        ]
        actor_rep, from_rep, to_rep = (rep_t.alias(name) for name in ("actor_rep", "from_rep", "to_rep"))
        ownership = [
            OwnershipRecord(o.id, o.customer_id, o.kind, o.actor_login, o.from_login,
                            o.to_login, o.reason, o.at)
            for o in conn.execute(
                select(ownership_t, actor_rep.c.login.label("actor_login"),
                       from_rep.c.login.label("from_login"), to_rep.c.login.label("to_login"))
                .select_from(
                    ownership_t.outerjoin(actor_rep, actor_rep.c.id == ownership_t.c.actor_id)
                    .outerjoin(from_rep, from_rep.c.id == ownership_t.c.from_rep_id)
                    .outerjoin(to_rep, to_rep.c.id == ownership_t.c.to_rep_id)
                )
                .where(ownership_t.c.customer_id == customer_id)
                .order_by(ownership_t.c.at.desc(), ownership_t.c.id.desc())
            )
        ]
        audit = []
        if history:
            audit = [
                AuditRecord(a.id, a.login, a.entity, a.entity_id, a.action, a.field, a.old,
                            a.new, a.at)
                for a in conn.execute(
                    select(audit_t, rep_t.c.login)
                    .select_from(audit_t.outerjoin(rep_t, rep_t.c.id == audit_t.c.actor_id))
                    .where(audit_t.c.entity == "customer", audit_t.c.entity_id == customer_id)
                    .order_by(audit_t.c.at.desc(), audit_t.c.id.desc())
                )
            ]
        value = self._value(conn, row)
        now = self.clock.now()
        days_since = (now - row.last_follow_up_at).days if row.last_follow_up_at else None
        days_to_recycle = None
        if row.owner_id is not None:
            deadline = recycle_deadline(
                claimed_at=row.claimed_at, last_follow_up_at=row.last_follow_up_at,
                locked=bool(row.locked), has_won_deal=any(d.stage == "won" for d in deals),
                rules=self.rules(conn),
            )
            if deadline is not None:
                days_to_recycle = max(0, (deadline.at - now).days)
        return Portrait(record, contacts, follow_ups, deals, value, ownership,
                        days_since, days_to_recycle, audit)
