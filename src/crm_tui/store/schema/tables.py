"""The tables as SQLAlchemy Core objects: what the store's queries run on.

``models.py`` declares the schema with SQLModel (for Alembic and for readers); this module
mirrors it in plain Core so that opening a store — the path to the TUI's first rows and to
``crm find`` — imports neither SQLModel, pydantic nor SQLAlchemy's ORM (about a fifth of a
second of start-up, DESIGN §9 and §11). ``tests/test_migrations.py`` checks that both
declare exactly the same tables, columns, types, keys and indexes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING_CONVENTION)


class AwareDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out (what SQLModel's UTCDateTime does)."""

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError("timestamps must be timezone-aware (use the store's clock)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


rep = Table(
    "rep",
    metadata,
    Column("id", Integer(), primary_key=True),
    Column("login", String(64), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("team", String(64)),
    Column("active", Boolean(), nullable=False),
    Column("created_at", AwareDateTime(), nullable=False),
)


setting = Table(
    "setting",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text(), nullable=False),
)


tag = Table(
    "tag",
    metadata,
    Column("id", Integer(), primary_key=True),
    Column("name", String(50), nullable=False, unique=True),
)


audit_event = Table(
    "audit_event",
    metadata,
    Column("id", Integer(), primary_key=True),
    Column("actor_id", Integer(), ForeignKey("rep.id")),
    Column("entity", String(32), nullable=False),
    Column("entity_id", Integer()),
    Column("action", String(32), nullable=False),
    Column("field", String(64)),
    Column("old", Text()),
    Column("new", Text()),
    Column("at", AwareDateTime(), nullable=False),
    Index("ix_audit_event_entity", "entity", "entity_id", "at"),
)


customer = Table(
    "customer",
    metadata,
    Column("id", Integer(), primary_key=True),
    Column("name", String(200), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("company", String(200), index=True),
    Column("industry", String(100)),
    Column("region", String(100)),
    Column("address", String(300)),
    Column("phone", String(32), index=True),
    Column("email", String(254), index=True),
    Column("source", String(100)),
    Column("status", String(16), nullable=False, index=True),
    Column("tier", String(1), index=True),
    Column("notes", Text()),
    Column("extra", JSON()),
    Column("owner_id", Integer(), ForeignKey("rep.id")),
    Column("claimed_at", AwareDateTime()),
    Column("last_follow_up_at", AwareDateTime(), index=True),
    Column("next_follow_up_at", Date(), index=True),
    Column("pool_entered_at", AwareDateTime()),
    Column("released_by_id", Integer(), ForeignKey("rep.id")),
    Column("release_reason", String(500)),
    Column("locked", Boolean(), nullable=False),
    Column("search_text", Text(), nullable=False, server_default=''),
    Column("name_key", String(200), nullable=False, server_default='', index=True),
    Column("created_at", AwareDateTime(), nullable=False),
    Column("updated_at", AwareDateTime(), nullable=False),
    Column("updated_by_id", Integer(), ForeignKey("rep.id")),
    Column("version", Integer(), nullable=False, server_default='1'),
    Index("ix_customer_owner_name", "owner_id", "name"),
    Index("ix_customer_owner_next", "owner_id", "next_follow_up_at"),
    Index("ix_customer_owner_stats", "owner_id", "tier", "locked", "claimed_at", "last_follow_up_at", "next_follow_up_at"),
    Index("ix_customer_pool", "pool_entered_at"),
)


contact = Table(
    "contact",
    metadata,
    Column("id", Integer(), primary_key=True),
    Column("customer_id", Integer(), ForeignKey("customer.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("title", String(100)),
    Column("phone", String(32), index=True),
    Column("email", String(254), index=True),
    Column("wechat", String(64)),
    Column("is_primary", Boolean(), nullable=False),
)


customer_tag = Table(
    "customer_tag",
    metadata,
    Column("customer_id", Integer(), ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", Integer(), ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True, index=True),
)


deal = Table(
    "deal",
    metadata,
    Column("id", Integer(), primary_key=True),
    Column("customer_id", Integer(), ForeignKey("customer.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("owner_id", Integer(), ForeignKey("rep.id")),
    Column("title", String(200), nullable=False),
    Column("amount", Numeric(14, 2), nullable=False),
    Column("stage", String(16), nullable=False),
    Column("expected_close", Date()),
    Column("closed_at", AwareDateTime()),
    Column("created_at", AwareDateTime(), nullable=False),
    Column("updated_at", AwareDateTime(), nullable=False),
    Index("ix_deal_owner_stage", "owner_id", "stage"),
    Index("ix_deal_stage_stats", "stage", "closed_at", "customer_id", "owner_id", "amount"),
)


follow_up = Table(
    "follow_up",
    metadata,
    Column("id", Integer(), primary_key=True),
    Column("customer_id", Integer(), ForeignKey("customer.id", ondelete="CASCADE"), nullable=False),
    Column("rep_id", Integer(), ForeignKey("rep.id"), nullable=False),
    Column("at", AwareDateTime(), nullable=False, index=True),
    Column("channel", String(16), nullable=False),
    Column("summary", Text(), nullable=False),
    Column("next_at", Date()),
    Index("ix_follow_up_customer_at", "customer_id", "at"),
    Index("ix_follow_up_rep_at", "rep_id", "at"),
)


ownership_event = Table(
    "ownership_event",
    metadata,
    Column("id", Integer(), primary_key=True),
    Column("customer_id", Integer(), ForeignKey("customer.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("actor_id", Integer(), ForeignKey("rep.id")),
    Column("from_rep_id", Integer(), ForeignKey("rep.id")),
    Column("to_rep_id", Integer(), ForeignKey("rep.id")),
    Column("reason", String(500)),
    Column("at", AwareDateTime(), nullable=False, index=True),
    Index("ix_ownership_event_customer_at", "customer_id", "at"),
    Index("ix_ownership_event_from_kind_at", "from_rep_id", "kind", "at"),
    Index("ix_ownership_event_to_kind_at", "to_rep_id", "kind", "at"),
)
