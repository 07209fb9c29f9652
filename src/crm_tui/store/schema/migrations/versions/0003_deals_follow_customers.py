"""open deals follow their customer; recycling is the system's

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 10:00:00

Data only (issue 14 items 1 and 4). Before it, a customer that moved (claimed, released,
recycled, transferred) left its open deals with the rep it came from, who may no longer see it,
and the new owner's pipeline missed them; and a recycle run recorded whoever ran it as the
actor of each rule move. Now every move carries the open deals (``store/db/history.py``), so:

- an open deal whose owner is not its customer's owner goes to the customer's owner (to nobody
  when the customer is in the open sea); won and lost deals keep their owner, for the record;
- recycling events and their audit rows have no actor: the rule (named in the reason) did it.

Nothing to undo on downgrade: the schema is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The stages a deal is still open in, as they were at this revision (store/domain.py).
OPEN_STAGES = ("prospecting", "qualified", "proposal", "negotiation")

customer = sa.table("customer", sa.column("id", sa.Integer), sa.column("owner_id", sa.Integer))
deal = sa.table("deal", sa.column("id", sa.Integer), sa.column("customer_id", sa.Integer),
                sa.column("owner_id", sa.Integer), sa.column("stage", sa.String))
ownership_event = sa.table("ownership_event", sa.column("kind", sa.String),
                           sa.column("actor_id", sa.Integer))
audit_event = sa.table("audit_event", sa.column("entity", sa.String),
                       sa.column("action", sa.String), sa.column("actor_id", sa.Integer))


def upgrade() -> None:
    owner = (
        sa.select(customer.c.owner_id).where(customer.c.id == deal.c.customer_id)
        .scalar_subquery()
    )
    same_owner = sa.exists().where(
        customer.c.id == deal.c.customer_id,
        customer.c.owner_id.is_not_distinct_from(deal.c.owner_id),
    )
    op.execute(
        sa.update(deal).where(deal.c.stage.in_(OPEN_STAGES), ~same_owner).values(owner_id=owner)
    )
    op.execute(sa.update(ownership_event).where(ownership_event.c.kind == "recycled")
               .values(actor_id=None))
    op.execute(sa.update(audit_event)
               .where(audit_event.c.entity == "customer", audit_event.c.action == "recycle")
               .values(actor_id=None))


def downgrade() -> None:
    pass
