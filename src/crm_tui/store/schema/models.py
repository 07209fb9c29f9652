"""The SQLModel tables of DESIGN §3: the one source of the schema.

Timestamps are aware UTC (SQLModel's UTCDateTime); calendar dates (next follow-up, expected
close) are plain dates in the team's local calendar.

Two things follow from these classes and are checked against them by
``tests/test_migrations.py``: the Core twin ``tables.py`` that the store's queries run on
(written by ``python -m crm_tui.store.schema.generate_tables``, so opening a store never imports
SQLModel), and the Alembic migrations in ``migrations/versions/`` (``alembic check``). Adding a
table is one model here and one migration, drafted (with the twin rewritten) by
``python -m crm_tui.store.schema.new_migration "add ticket"``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, Index, Integer, MetaData, Numeric, String, Text
from sqlmodel import Field, SQLModel

from crm_tui.store.schema.core_types import NAMING_CONVENTION

# Constraint names must be stable for Alembic's batch mode on SQLite.
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata


class Rep(SQLModel, table=True):
    """A person who uses the CRM: an OS account or PostgreSQL role (``login``)."""

    __tablename__ = "rep"

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(100), nullable=False))
    role: str = Field(default="rep", sa_column=Column(String(16), nullable=False))
    team: str | None = Field(default=None, sa_column=Column(String(64)))
    active: bool = Field(default=True)
    created_at: datetime


class Customer(SQLModel, table=True):
    """A customer: in its owner's private sea, or in the open sea when ``owner_id`` is null."""

    __tablename__ = "customer"
    __table_args__ = (
        Index("ix_customer_owner_next", "owner_id", "next_follow_up_at"),
        Index("ix_customer_owner_name", "owner_id", "name"),
        Index("ix_customer_owner_sort", "owner_id", "sort_key"),
        Index("ix_customer_pool", "pool_entered_at"),
        # The dashboard's per-owner figures (owned, tier, overdue, recycle soon) read only this.
        Index("ix_customer_owner_stats", "owner_id", "tier", "locked", "claimed_at",
              "last_follow_up_at", "next_follow_up_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(200), nullable=False, index=True))
    kind: str = Field(default="company", sa_column=Column(String(16), nullable=False))
    company: str | None = Field(default=None, sa_column=Column(String(200), index=True))
    industry: str | None = Field(default=None, sa_column=Column(String(100)))
    region: str | None = Field(default=None, sa_column=Column(String(100)))
    address: str | None = Field(default=None, sa_column=Column(String(300)))
    phone: str | None = Field(default=None, sa_column=Column(String(32), index=True))
    email: str | None = Field(default=None, sa_column=Column(String(254), index=True))
    source: str | None = Field(default=None, sa_column=Column(String(100)))
    status: str = Field(default="lead", sa_column=Column(String(16), nullable=False, index=True))
    tier: str | None = Field(default=None, sa_column=Column(String(1), index=True))
    notes: str | None = Field(default=None, sa_column=Column(Text))
    extra: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # No index of its own: the (owner_id, ...) indexes below serve every owner_id lookup.
    owner_id: int | None = Field(default=None, foreign_key="rep.id")
    claimed_at: datetime | None = None
    last_follow_up_at: datetime | None = Field(default=None, index=True)
    next_follow_up_at: date | None = Field(default=None, index=True)
    pool_entered_at: datetime | None = None
    released_by_id: int | None = Field(default=None, foreign_key="rep.id")
    release_reason: str | None = Field(default=None, sa_column=Column(String(500)))
    locked: bool = Field(default=False)
    # Search tokens (CJK characters and pairs, pinyin, initials, phone digit runs), kept in
    # step by the store on every write; FTS5 (SQLite) or a GIN index (PostgreSQL) covers it.
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    # The list's name order: Chinese by pinyin, Latin alphabetically, in 0-9a-z only so both
    # backends order it alike under any collation (search/sort_key.py); kept in step on write.
    sort_key: str = Field(
        default="", sa_column=Column(String(200), nullable=False, server_default="", index=True)
    )
    # Case-folded, punctuation-free name for the duplicate check.
    name_key: str = Field(
        default="", sa_column=Column(String(200), nullable=False, server_default="", index=True)
    )
    # Name and company together, for the duplicate check's "same name at the same company"
    # (customers/duplicates.py ``match_key``); null for a person with no company.
    match_key: str | None = Field(default=None, sa_column=Column(String(401), index=True))
    created_at: datetime
    updated_at: datetime
    updated_by_id: int | None = Field(default=None, foreign_key="rep.id")
    version: int = Field(
        default=1, sa_column=Column(Integer, nullable=False, server_default="1")
    )


class MergedCustomer(SQLModel, table=True):
    """A customer merged into another (``crm merge``): its id stays findable as "merged into"
    while its row, contacts, follow-ups, deals, tags and history live on in ``merged_into``."""

    __tablename__ = "merged_customer"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    merged_into: int = Field(foreign_key="customer.id", index=True, ondelete="CASCADE")
    merged_at: datetime
    merged_by_id: int | None = Field(default=None, foreign_key="rep.id")


class Contact(SQLModel, table=True):
    """A person at a customer."""

    __tablename__ = "contact"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True, ondelete="CASCADE")
    name: str = Field(sa_column=Column(String(100), nullable=False))
    title: str | None = Field(default=None, sa_column=Column(String(100)))
    phone: str | None = Field(default=None, sa_column=Column(String(32), index=True))
    email: str | None = Field(default=None, sa_column=Column(String(254), index=True))
    wechat: str | None = Field(default=None, sa_column=Column(String(64)))
    is_primary: bool = Field(default=False)


class FollowUp(SQLModel, table=True):
    """One logged contact with a customer, and the next date agreed."""

    __tablename__ = "follow_up"
    __table_args__ = (
        Index("ix_follow_up_customer_at", "customer_id", "at"),
        Index("ix_follow_up_rep_at", "rep_id", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", ondelete="CASCADE")
    rep_id: int = Field(foreign_key="rep.id")
    at: datetime = Field(index=True)
    channel: str = Field(default="call", sa_column=Column(String(16), nullable=False))
    summary: str = Field(sa_column=Column(Text, nullable=False))
    next_at: date | None = None


class Deal(SQLModel, table=True):
    """An opportunity in the pipeline."""

    __tablename__ = "deal"
    __table_args__ = (
        Index("ix_deal_owner_stage", "owner_id", "stage"),
        # The dashboard's pipeline, wins this month and RFM read only this.
        Index("ix_deal_stage_stats", "stage", "closed_at", "customer_id", "owner_id", "amount"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True, ondelete="CASCADE")
    owner_id: int | None = Field(default=None, foreign_key="rep.id")
    title: str = Field(sa_column=Column(String(200), nullable=False))
    amount: Decimal = Field(sa_column=Column(Numeric(14, 2), nullable=False))
    # Indexed by ix_deal_stage_stats (stage first).
    stage: str = Field(sa_column=Column(String(16), nullable=False))
    expected_close: date | None = None
    closed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class Tag(SQLModel, table=True):
    """A label reps put on customers."""

    __tablename__ = "tag"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(50), nullable=False, unique=True))


class CustomerTag(SQLModel, table=True):
    """Which tags a customer carries."""

    __tablename__ = "customer_tag"

    customer_id: int = Field(foreign_key="customer.id", primary_key=True, ondelete="CASCADE")
    tag_id: int = Field(foreign_key="tag.id", primary_key=True, index=True, ondelete="CASCADE")


class OwnershipEvent(SQLModel, table=True):
    """Every move of a customer between seas: created, claimed, released, recycled, ..."""

    __tablename__ = "ownership_event"
    __table_args__ = (
        Index("ix_ownership_event_customer_at", "customer_id", "at"),
        Index("ix_ownership_event_to_kind_at", "to_rep_id", "kind", "at"),
        Index("ix_ownership_event_from_kind_at", "from_rep_id", "kind", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", ondelete="CASCADE")
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    actor_id: int | None = Field(default=None, foreign_key="rep.id")
    from_rep_id: int | None = Field(default=None, foreign_key="rep.id")
    to_rep_id: int | None = Field(default=None, foreign_key="rep.id")
    reason: str | None = Field(default=None, sa_column=Column(String(500)))
    at: datetime = Field(index=True)


class AuditEvent(SQLModel, table=True):
    """Who changed which field of what, when, from what to what."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_entity", "entity", "entity_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    actor_id: int | None = Field(default=None, foreign_key="rep.id")
    entity: str = Field(sa_column=Column(String(32), nullable=False))
    entity_id: int | None = None
    action: str = Field(sa_column=Column(String(32), nullable=False))
    field: str | None = Field(default=None, sa_column=Column(String(64)))
    old: str | None = Field(default=None, sa_column=Column(Text))
    new: str | None = Field(default=None, sa_column=Column(Text))
    at: datetime


class Setting(SQLModel, table=True):
    """A team setting (open-sea rules and others), its value as JSON text."""

    __tablename__ = "setting"

    key: str = Field(sa_column=Column(String(64), primary_key=True))
    value: str = Field(sa_column=Column(Text, nullable=False))
