"""The tables as SQLAlchemy Core objects: what the store's queries run on.

Generated from ``models.py`` by ``python -m crm_tui.store.schema.generate_tables``; do not edit.
The models are the schema's one source; this twin exists so that opening a store (the path to
the TUI's first rows and to ``crm find``) imports neither SQLModel, pydantic nor SQLAlchemy's ORM
(about a fifth of a second of start-up, DESIGN §9 and §11). ``tests/test_migrations.py`` fails
when this file is not what the command writes.
"""

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)

from crm_tui.store.schema.core_types import NAMING_CONVENTION, AwareDateTime

metadata = MetaData(naming_convention=NAMING_CONVENTION)


rep = Table(
    "rep",
    metadata,
    Column("id", Integer(), primary_key=True),
    Column("login", String(length=64), nullable=False, unique=True),
    Column("name", String(length=100), nullable=False),
    Column("role", String(length=16), nullable=False),
    Column("team", String(length=64)),
    Column("active", Boolean(), nullable=False),
    Column("created_at", AwareDateTime(), nullable=False),
)


setting = Table(
    "setting",
    metadata,
    Column("key", String(length=64), primary_key=True),
    Column("value", Text(), nullable=False),
)


tag = Table(
    "tag",
    metadata,
    Column("id", Integer(), primary_key=True),
    Column("name", String(length=50), nullable=False, unique=True),
)


audit_event = Table(
    "audit_event",
    metadata,
    Column("id", Integer(), primary_key=True),
    Column("actor_id", Integer(), ForeignKey("rep.id")),
    Column("entity", String(length=32), nullable=False),
    Column("entity_id", Integer()),
    Column("action", String(length=32), nullable=False),
    Column("field", String(length=64)),
    Column("old", Text()),
    Column("new", Text()),
    Column("at", AwareDateTime(), nullable=False),
    Index("ix_audit_event_entity", "entity", "entity_id", "at"),
)


customer = Table(
    "customer",
    metadata,
    Column("id", Integer(), primary_key=True),
    Column("name", String(length=200), nullable=False, index=True),
    Column("kind", String(length=16), nullable=False),
    Column("company", String(length=200), index=True),
    Column("industry", String(length=100)),
    Column("region", String(length=100)),
    Column("address", String(length=300)),
    Column("phone", String(length=32), index=True),
    Column("email", String(length=254), index=True),
    Column("source", String(length=100)),
    Column("status", String(length=16), nullable=False, index=True),
    Column("tier", String(length=1), index=True),
    Column("notes", Text()),
    Column("extra", JSON()),
    Column("owner_id", Integer(), ForeignKey("rep.id")),
    Column("claimed_at", AwareDateTime()),
    Column("last_follow_up_at", AwareDateTime(), index=True),
    Column("next_follow_up_at", Date(), index=True),
    Column("pool_entered_at", AwareDateTime()),
    Column("released_by_id", Integer(), ForeignKey("rep.id")),
    Column("release_reason", String(length=500)),
    Column("locked", Boolean(), nullable=False),
    Column("search_text", Text(), nullable=False, server_default=""),
    Column("sort_key", String(length=200), nullable=False, index=True, server_default=""),
    Column("name_key", String(length=200), nullable=False, index=True, server_default=""),
    Column("match_key", String(length=401), index=True),
    Column("created_at", AwareDateTime(), nullable=False),
    Column("updated_at", AwareDateTime(), nullable=False),
    Column("updated_by_id", Integer(), ForeignKey("rep.id")),
    Column("version", Integer(), nullable=False, server_default="1"),
    Index("ix_customer_owner_name", "owner_id", "name"),
    Index("ix_customer_owner_next", "owner_id", "next_follow_up_at"),
    Index("ix_customer_owner_sort", "owner_id", "sort_key"),
    Index("ix_customer_owner_stats", "owner_id", "tier", "locked", "claimed_at", "last_follow_up_at", "next_follow_up_at"),
    Index("ix_customer_pool", "pool_entered_at"),
)


contact = Table(
    "contact",
    metadata,
    Column("id", Integer(), primary_key=True),
    Column("customer_id", Integer(), ForeignKey("customer.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(length=100), nullable=False),
    Column("title", String(length=100)),
    Column("phone", String(length=32), index=True),
    Column("email", String(length=254), index=True),
    Column("wechat", String(length=64)),
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
    Column("title", String(length=200), nullable=False),
    Column("amount", Numeric(precision=14, scale=2), nullable=False),
    Column("stage", String(length=16), nullable=False),
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
    Column("channel", String(length=16), nullable=False),
    Column("summary", Text(), nullable=False),
    Column("next_at", Date()),
    Index("ix_follow_up_customer_at", "customer_id", "at"),
    Index("ix_follow_up_rep_at", "rep_id", "at"),
)


merged_customer = Table(
    "merged_customer",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=False),
    Column("merged_into", Integer(), ForeignKey("customer.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("merged_at", AwareDateTime(), nullable=False),
    Column("merged_by_id", Integer(), ForeignKey("rep.id")),
)


ownership_event = Table(
    "ownership_event",
    metadata,
    Column("id", Integer(), primary_key=True),
    Column("customer_id", Integer(), ForeignKey("customer.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(length=16), nullable=False),
    Column("actor_id", Integer(), ForeignKey("rep.id")),
    Column("from_rep_id", Integer(), ForeignKey("rep.id")),
    Column("to_rep_id", Integer(), ForeignKey("rep.id")),
    Column("reason", String(length=500)),
    Column("at", AwareDateTime(), nullable=False, index=True),
    Index("ix_ownership_event_customer_at", "customer_id", "at"),
    Index("ix_ownership_event_from_kind_at", "from_rep_id", "kind", "at"),
    Index("ix_ownership_event_to_kind_at", "to_rep_id", "kind", "at"),
)
