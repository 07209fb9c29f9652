"""Which customers a rep sees, and what of them: the visibility rule (DESIGN §5), the masking of
open-sea contacts (§4) and the customer records built from rows with both applied."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, and_, false, func, or_, select, true
from sqlalchemy.sql import ColumnElement

from crm_tui.store.db.settings import Settings
from crm_tui.store.errors import MergedAway, NotFound
from crm_tui.store.records import Actor, CustomerRecord
from crm_tui.store.schema.tables import customer as customer_t
from crm_tui.store.schema.tables import customer_tag as customer_tag_t
from crm_tui.store.schema.tables import merged_customer as merged_t
from crm_tui.store.schema.tables import rep as rep_t
from crm_tui.store.schema.tables import tag as tag_t

owner_rep = rep_t.alias("owner_rep")
released_rep = rep_t.alias("released_rep")

CUSTOMER_COLUMNS = [
    customer_t.c.id,
    customer_t.c.name,
    customer_t.c.kind,
    customer_t.c.company,
    customer_t.c.industry,
    customer_t.c.region,
    customer_t.c.address,
    customer_t.c.phone,
    customer_t.c.email,
    customer_t.c.source,
    customer_t.c.status,
    customer_t.c.tier,
    customer_t.c.notes,
    customer_t.c.extra,
    customer_t.c.owner_id,
    customer_t.c.claimed_at,
    customer_t.c.last_follow_up_at,
    customer_t.c.next_follow_up_at,
    customer_t.c.pool_entered_at,
    customer_t.c.release_reason,
    customer_t.c.locked,
    customer_t.c.created_at,
    customer_t.c.updated_at,
    customer_t.c.version,
    owner_rep.c.login.label("owner_login"),
    owner_rep.c.name.label("owner_name"),
    released_rep.c.login.label("released_by_login"),
]


_COPIED_FIELDS = (
    "id", "name", "kind", "company", "industry", "region", "address", "source", "status", "tier",
    "notes", "owner_name", "claimed_at", "last_follow_up_at", "next_follow_up_at",
    "pool_entered_at", "release_reason", "created_at", "updated_at", "version",
)
"""The fields of a ``CustomerRecord`` that are the row's column of the same name, as they are."""


def customer_select(*extra: Any) -> Select[Any]:
    """SELECT of a customer's columns with its owner and releaser resolved to logins."""
    return select(*CUSTOMER_COLUMNS, *extra).select_from(
        customer_t.outerjoin(owner_rep, owner_rep.c.id == customer_t.c.owner_id).outerjoin(
            released_rep, released_rep.c.id == customer_t.c.released_by_id
        )
    )


def mask_phone(phone: str | None) -> str | None:
    """An open-sea phone as shown before the claim: the last four digits and the prefix."""
    if not phone:
        return phone
    digits = phone
    if len(digits) <= 7:
        return digits[:2] + "*" * (len(digits) - 2)
    return digits[: len(digits) - 8] + "****" + digits[-4:]


def mask_email(email: str | None) -> str | None:
    """An open-sea email as shown before the claim: the first letter and the domain."""
    if not email or "@" not in email:
        return email
    local, _, domain = email.partition("@")
    return (local[:1] or "*") + "***@" + domain


class Visibility(Settings):
    """The visibility rule as SQL, and customer records with pool contacts masked."""

    def visible(self, actor: Actor) -> ColumnElement[bool]:
        """DESIGN §5: the customers ``actor`` may see — own and open sea; a manager's team; all."""
        if actor.is_admin:
            return true()
        own_or_pool = or_(customer_t.c.owner_id.is_(None), customer_t.c.owner_id == actor.id)
        if actor.role == "manager" and actor.team:
            team = select(rep_t.c.id).where(rep_t.c.team == actor.team)
            return or_(own_or_pool, customer_t.c.owner_id.in_(team))
        return own_or_pool

    def may_manage(self, conn: Connection, actor: Actor, owner_id: int | None) -> bool:
        """Whether ``actor`` manages the private sea of rep ``owner_id`` (own, team or admin)."""
        if actor.is_admin or owner_id == actor.id:
            return True
        if actor.role != "manager" or owner_id is None or not actor.team:
            return False
        team = conn.execute(select(rep_t.c.team).where(rep_t.c.id == owner_id)).scalar()
        return team == actor.team

    def scope_clause(self, actor: Actor, scope: str) -> ColumnElement[bool]:
        """``mine``: my private sea; ``pool``: the open sea; ``all``: everything I may see."""
        if scope == "mine":
            return customer_t.c.owner_id == actor.id
        if scope == "pool":
            return customer_t.c.owner_id.is_(None)
        if scope == "all":
            return self.visible(actor)
        return false()

    # --- records ------------------------------------------------------------------------------

    def _records(self, conn: Connection, rows: Sequence[Any], actor: Actor) -> list[CustomerRecord]:
        """Turn customer_select() rows into records: tags attached, pool contacts masked."""
        if not rows:
            return []
        ids = [row.id for row in rows]
        tags: dict[int, list[str]] = {}
        for customer_id, name in conn.execute(
            select(customer_tag_t.c.customer_id, tag_t.c.name)
            .join(tag_t, tag_t.c.id == customer_tag_t.c.tag_id)
            .where(customer_tag_t.c.customer_id.in_(ids))
            .order_by(tag_t.c.name)
        ):
            tags.setdefault(customer_id, []).append(name)
        mask = bool(self.rule(conn, "mask_pool_contacts"))
        return [self._record(row, tags.get(row.id, []), mask) for row in rows]

    @staticmethod
    def _record(row: Any, tags: list[str], mask: bool) -> CustomerRecord:
        masked = mask and row.owner_id is None
        return CustomerRecord(
            **{name: getattr(row, name) for name in _COPIED_FIELDS},
            phone=mask_phone(row.phone) if masked else row.phone,
            email=mask_email(row.email) if masked else row.email,
            tags=tags,
            extra=dict(row.extra or {}),
            owner=row.owner_login,
            released_by=row.released_by_login,
            locked=bool(row.locked),
            masked=masked,
        )

    def _visible_customer_row(self, conn: Connection, actor: Actor, customer_id: int) -> Any:
        row = conn.execute(
            customer_select().where(customer_t.c.id == customer_id, self.visible(actor))
        ).first()
        if row is None:
            raise self._missing(conn, actor, customer_id)
        return row

    def _missing(self, conn: Connection, actor: Actor, customer_id: int) -> NotFound:
        """Why ``customer_id`` is not there for ``actor``: merged into a customer they may see
        (``crm merge``: the id stays findable), or simply none they may see."""
        into = conn.execute(
            select(merged_t.c.merged_into).where(merged_t.c.id == customer_id)
        ).scalar()
        if into is not None and conn.execute(
            select(customer_t.c.id).where(customer_t.c.id == into, self.visible(actor))
        ).first() is not None:
            return MergedAway(f"Customer {customer_id} was merged into #{into}.", customer_id, into)
        return NotFound(f"No customer {customer_id} that you may see.")

    def get_customer(self, customer_id: int, actor: Actor) -> CustomerRecord:
        with self.read() as conn:
            row = self._visible_customer_row(conn, actor, customer_id)
            return self._records(conn, [row], actor)[0]

    def _count(self, conn: Connection, *where: ColumnElement[bool]) -> int:
        """How many customers meet every condition (whoever may see them)."""
        return int(conn.execute(select(func.count()).select_from(customer_t).where(and_(*where))).scalar() or 0)

    # --- reading past row-level security (``security.SecurityOps`` overrides these) -----------

    def rls_applies(self, conn: Connection) -> bool:
        """Whether PostgreSQL row-level security filters this connection's rows (a rep's role).

        False on SQLite and for roles that bypass it (superuser, table owner, BYPASSRLS).
        """
        return False

    def customer_owner(self, conn: Connection, customer_id: int) -> Any | None:
        """Owner of any customer, visible to the actor or not: a row (owner_id, owner_login,
        owner_name), all None in the open sea; None when there is no such customer.

        Only for messages such as "already claimed by X"; never a way to the customer's details.
        """
        return conn.execute(
            select(customer_t.c.owner_id, owner_rep.c.login.label("owner_login"),
                   owner_rep.c.name.label("owner_name"))
            .select_from(customer_t.outerjoin(owner_rep, owner_rep.c.id == customer_t.c.owner_id))
            .where(customer_t.c.id == customer_id)
        ).first()
