"""Deals: the pipeline of DESIGN §3 (amounts as Decimal, stages with probabilities)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, Select, insert, select, update

from crm_tui.store import validate
from crm_tui.store.db.base import StoreBase, customer_t, rep_t
from crm_tui.store.domain import OPEN_STAGES, STAGE_PROBABILITY
from crm_tui.store.errors import NotFound, PermissionDenied, UsageError
from crm_tui.store.records import Actor, DealRecord
from crm_tui.store.schema.tables import deal as deal_t

DEAL_SCOPES = ("all", "mine")


class DealOps(StoreBase):
    """Adding deals and moving them through the stages."""

    def add_deal(
        self,
        actor: Actor,
        customer_id: int,
        title: str,
        amount: Any,
        *,
        stage: str | None = None,
        expected_close: date | str | None = None,
    ) -> DealRecord:
        with self.write() as conn:
            row = self._visible_customer_row(conn, actor, customer_id)
            if row.owner_id is None:
                raise PermissionDenied(f"Customer {customer_id} is in the open sea: claim it first.")
            if not self.may_manage(conn, actor, row.owner_id):
                raise PermissionDenied(f"Customer {customer_id} belongs to {row.owner_login}.")
            clean_title = validate.text("title", title, required=True)
            clean_amount = validate.amount(amount)
            clean_stage = validate.stage(stage)
            close = validate.parse_date("expected_close", expected_close, today=self.clock.today())
            now = self.clock.now()
            deal_id = conn.execute(
                insert(deal_t).values(
                    customer_id=customer_id, owner_id=row.owner_id, title=clean_title,
                    amount=clean_amount, stage=clean_stage, expected_close=close,
                    closed_at=now if clean_stage not in OPEN_STAGES else None,
                    created_at=now, updated_at=now,
                ).returning(deal_t.c.id)
            ).scalar_one()
            self._after_deal_change(conn, actor, customer_id, clean_stage)
            self._audit(conn, actor, "deal", deal_id, "create",
                        {"title": (None, clean_title), "amount": (None, clean_amount),
                         "stage": (None, clean_stage)})
            self._changed(conn, [customer_id])
            return self._deal(conn, deal_id)

    def move_deal(self, actor: Actor, deal_id: int, stage: str) -> DealRecord:
        """Move a deal to ``stage``; won and lost close it."""
        with self.write() as conn:
            deal = conn.execute(select(deal_t).where(deal_t.c.id == deal_id)).first()
            if deal is None:
                raise NotFound(f"No deal {deal_id}.")
            row = self._visible_customer_row(conn, actor, deal.customer_id)
            if row.owner_id is None or not self.may_manage(conn, actor, row.owner_id):
                raise PermissionDenied(f"Deal {deal_id} is not in your private sea.")
            clean_stage = validate.stage(stage)
            now = self.clock.now()
            conn.execute(update(deal_t).where(deal_t.c.id == deal_id).values(
                stage=clean_stage, updated_at=now,
                closed_at=now if clean_stage not in OPEN_STAGES else None,
            ))
            if clean_stage != deal.stage:
                self._audit(conn, actor, "deal", deal_id, "update", {"stage": (deal.stage, clean_stage)})
            self._after_deal_change(conn, actor, deal.customer_id, clean_stage)
            self._changed(conn, [deal.customer_id])
            return self._deal(conn, deal_id)

    def list_deals(
        self,
        actor: Actor,
        *,
        customer_id: int | None = None,
        stage: str | None = None,
        scope: str = "all",
        limit: int = 50,
    ) -> list[DealRecord]:
        """The deals ``actor`` may see, newest first.

        A deal is visible when its customer is (``visible``, the one rule, as for the portrait);
        ``scope="mine"`` keeps the deals ``actor`` owns. ``customer_id`` (a customer the actor
        may see, else ``NotFound``) and ``stage`` narrow the list.
        """
        if scope not in DEAL_SCOPES:
            raise UsageError(f"Unknown deal scope {scope!r}: one of {', '.join(DEAL_SCOPES)}.")
        query = self._deal_select().where(self.visible(actor))
        if scope == "mine":
            query = query.where(deal_t.c.owner_id == actor.id)
        if stage is not None:
            query = query.where(deal_t.c.stage == validate.stage(stage))
        with self.read() as conn:
            if customer_id is not None:
                self._visible_customer_row(conn, actor, customer_id)
                query = query.where(deal_t.c.customer_id == customer_id)
            rows = conn.execute(
                query.order_by(deal_t.c.created_at.desc(), deal_t.c.id.desc()).limit(limit)
            ).all()
        return [self._deal_record(row) for row in rows]

    def _after_deal_change(self, conn: Connection, actor: Actor, customer_id: int, stage: str) -> None:
        """A won deal makes the customer a deal customer; the customer's version moves on."""
        values: dict[str, Any] = dict(
            updated_at=self.clock.now(), updated_by_id=actor.id, version=customer_t.c.version + 1
        )
        if stage == "won":
            values["status"] = "deal"
        conn.execute(update(customer_t).where(customer_t.c.id == customer_id).values(**values))

    def _deal(self, conn: Connection, deal_id: int) -> DealRecord:
        row = conn.execute(self._deal_select().where(deal_t.c.id == deal_id)).one()
        return self._deal_record(row)

    @staticmethod
    def _deal_select() -> Select[Any]:
        return select(
            deal_t, customer_t.c.name.label("customer_name"), rep_t.c.login.label("owner_login")
        ).select_from(
            deal_t.join(customer_t, customer_t.c.id == deal_t.c.customer_id)
            .outerjoin(rep_t, rep_t.c.id == deal_t.c.owner_id)
        )

    @staticmethod
    def _deal_record(row: Any) -> DealRecord:
        return DealRecord(
            id=row.id, customer_id=row.customer_id, customer_name=row.customer_name,
            owner=row.owner_login, title=row.title, amount=row.amount, stage=row.stage,
            probability=STAGE_PROBABILITY[row.stage], expected_close=row.expected_close,
            closed_at=row.closed_at, created_at=row.created_at,
        )
