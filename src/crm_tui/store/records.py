"""Plain records the store hands out: no ORM objects cross into the CLI or the screens."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


def jsonable(value: Any) -> Any:
    """Convert dates, decimals and nested records into JSON-ready values."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


class Record:
    def as_dict(self) -> dict[str, Any]:
        # Every record is a dataclass; the base they share is not.
        return jsonable(asdict(cast("DataclassInstance", self)))


@dataclass(frozen=True)
class Actor(Record):
    """The rep on whose behalf the store acts."""

    id: int
    login: str
    name: str
    role: str
    team: str | None = None
    active: bool = True

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_manager(self) -> bool:
        return self.role in ("manager", "admin")


@dataclass
class RepRecord(Record):
    id: int
    login: str
    name: str
    role: str
    team: str | None
    active: bool
    customers: int = 0


@dataclass
class CustomerRecord(Record):
    """A customer as the acting rep may see it (contacts masked in the open sea when set)."""

    id: int
    name: str
    kind: str
    company: str | None
    industry: str | None
    region: str | None
    address: str | None
    phone: str | None
    email: str | None
    source: str | None
    status: str
    tier: str | None
    tags: list[str]
    notes: str | None
    extra: dict[str, Any]
    owner: str | None
    owner_name: str | None
    claimed_at: datetime | None
    last_follow_up_at: datetime | None
    next_follow_up_at: date | None
    pool_entered_at: datetime | None
    released_by: str | None
    release_reason: str | None
    locked: bool
    created_at: datetime
    updated_at: datetime
    version: int
    masked: bool = False

    @property
    def in_pool(self) -> bool:
        return self.owner is None


@dataclass
class ContactRecord(Record):
    id: int
    customer_id: int
    name: str
    title: str | None
    phone: str | None
    email: str | None
    wechat: str | None
    is_primary: bool


@dataclass
class FollowUpRecord(Record):
    id: int
    customer_id: int
    customer_name: str
    rep: str
    at: datetime
    channel: str
    summary: str
    next_at: date | None


@dataclass
class DealRecord(Record):
    id: int
    customer_id: int
    customer_name: str
    owner: str | None
    title: str
    amount: Decimal
    stage: str
    probability: Decimal
    expected_close: date | None
    closed_at: datetime | None
    created_at: datetime


@dataclass
class OwnershipRecord(Record):
    id: int
    customer_id: int
    kind: str
    actor: str | None
    from_rep: str | None
    to_rep: str | None
    reason: str | None
    at: datetime


@dataclass
class AuditRecord(Record):
    id: int
    actor: str | None
    entity: str
    entity_id: int | None
    action: str
    field: str | None
    old: str | None
    new: str | None
    at: datetime


@dataclass
class DuplicatePair(Record):
    """Two customers the caller may see that are likely one (``crm duplicates``)."""

    first_id: int
    first_name: str
    second_id: int
    second_name: str
    score: int
    """0-100: the strongest reason's weight, plus how near the names are."""
    reasons: list[str]
    """Why (``same phone``, ``same email``, ``same name and company``, ...), strongest first."""


@dataclass
class MergeResult(Record):
    """What ``crm merge`` did: the customer kept, as it is now, and what moved into it."""

    kept: CustomerRecord
    merged_ids: list[int]
    filled: dict[str, Any]
    """KEEP's fields that were empty and came from a merged customer."""
    kept_apart: dict[str, dict[str, Any]]
    """Values of the merged customers KEEP already had otherwise, by "merged #ID" (also in
    KEEP's ``extra``, so nothing is lost)."""
    moved: dict[str, int]
    """How many contacts, follow-ups, deals, tags and history rows moved into KEEP."""


@dataclass
class Value(Record):
    """DESIGN §3 value of one customer."""

    established: Decimal
    potential: Decimal
    rfm_segment: str
    tier: str | None
    completeness: float
    missing: list[str]


@dataclass
class Portrait(Record):
    customer: CustomerRecord
    contacts: list[ContactRecord]
    follow_ups: list[FollowUpRecord]
    deals: list[DealRecord]
    value: Value
    ownership: list[OwnershipRecord]
    days_since_follow_up: int | None
    days_to_recycle: int | None
    audit: list[AuditRecord] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = self.customer.as_dict()
        data.update(
            contacts=[c.as_dict() for c in self.contacts],
            follow_ups=[f.as_dict() for f in self.follow_ups],
            deals=[d.as_dict() for d in self.deals],
            value=self.value.as_dict(),
            ownership_history=[o.as_dict() for o in self.ownership],
            days_since_follow_up=self.days_since_follow_up,
            days_to_recycle=self.days_to_recycle,
        )
        if self.audit:
            data["history"] = [a.as_dict() for a in self.audit]
        return data


@dataclass
class DueItem(Record):
    """One line of *Due today*: a follow-up due or overdue, or a customer close to recycling."""

    customer_id: int
    name: str
    company: str | None
    reason: str  # "overdue", "due", "recycle"
    due_on: date | None
    days: int  # days overdue (negative: days left) or days left before recycling
    last_follow_up_at: datetime | None


@dataclass
class Page(Record):
    """A window of a customer listing plus the total it is a window of."""

    total: int
    offset: int
    rows: list[CustomerRecord]


@dataclass(frozen=True)
class ListQuery:
    """What the customer list shows: scope, search text, sort and filters (``listing.py``)."""

    scope: str = "mine"
    """mine (my private sea), all (everything I may see) or pool (the open sea)."""
    text: str = ""
    """Search-as-you-type text; empty lists everything in scope."""
    sort: str = "name"
    """A key of ``SORTABLE``."""
    descending: bool = False
    status: str | None = None
    tier: str | None = None
    tag: str | None = None
    source: str | None = None
    region: str | None = None
    due: bool = False
    """Only customers whose next follow-up is today or overdue."""

    def with_(self, **changes: Any) -> ListQuery:
        return replace(self, **changes)
