"""What a duplicate is (DESIGN §5, issue 14 item 7), defined once here.

Two customers are one person or company when they have

1. the same phone (E.164), or the same email (case-folded): the strongest match;
2. the same name at the same company (``match_key``; a company is its own company),
   unless both have a phone and the phones differ (two phones: two people);
3. a near name (rapidfuzz) with the same phone.

A name alone never is: thousands of people share 张伟. The strongest match is the one a refusal
names. The rule is used by the duplicate check on create and edit (``duplicates_select``, which
the store runs directly and, on PostgreSQL under row-level security, through the
``crm_duplicate_owners`` function of ``security/row_level.py``, whose body is this same SELECT
compiled with the function's parameters in place of values), by the importer
(``files/importing/matching.py``) and by ``crm duplicates`` (``match_reasons``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    Text,
    and_,
    case,
    cast,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    true,
    union,
)
from sqlalchemy.sql import ColumnElement

from crm_tui.store import validate
from crm_tui.store.customers.visibility import Visibility
from crm_tui.store.schema.tables import customer as customer_t
from crm_tui.store.schema.tables import rep as rep_t

DUPLICATES_LIMIT = 20
"""Most matches one check reports (the strongest first, then by id)."""

DUPLICATE_OWNERS_PARAMETERS = ("p_match_key", "p_phone", "p_email", "p_exclude_id")
"""The parameters of the SQL function built from ``duplicates_select``, in order."""

SAME_PHONE = "phone"
SAME_EMAIL = "email"
SAME_NAME_AND_COMPANY = "name and company"
NEAR_NAME_AND_PHONE = "similar name and phone"
STRENGTH = {SAME_PHONE: 3, SAME_EMAIL: 3, SAME_NAME_AND_COMPANY: 2, NEAR_NAME_AND_PHONE: 1}
"""How strong each kind of match is: the strongest one is named."""

NEAR_NAME_CUTOFF = 85
"""The rapidfuzz ratio (0-100) from which two names are near."""

_WORD = re.compile(r"\w+", re.UNICODE)
_LEGAL_WORDS = ("co", "company", "ltd", "limited", "inc", "incorporated", "corp", "corporation",
                "llc", "plc", "gmbh", "ag", "sa", "pte", "pty", "llp", "group")
_LEGAL_CJK = ("股份有限公司", "有限责任公司", "集团有限公司", "有限公司", "集团", "公司")


def core_key(name: str) -> str:
    """A name without its legal form (Ltd, Inc, 有限公司, ...): 华为技术有限公司 and 华为技术
    are one company."""
    normal = unicodedata.normalize("NFKC", name).casefold()
    words = _WORD.findall(normal)
    while len(words) > 1 and words[-1] in _LEGAL_WORDS:
        words.pop()
    joined = "".join(words).replace("_", "")
    changed = True
    while changed:
        changed = False
        for suffix in _LEGAL_CJK:
            if joined.endswith(suffix) and len(joined) > len(suffix) + 1:
                joined = joined[: -len(suffix)]
                changed = True
    return joined[:200]


def match_key(name: str, kind: str | None, company: str | None) -> str | None:
    """The key of "the same name at the same company", or None when there is no company.

    A company (``kind`` company) is its own company, whatever group it names: two of them match
    when their names agree but for the legal form (华为技术有限公司, 华为技术公司; Acme Ltd,
    ACME Inc.). A person matches on their name and their company together, and a person with
    no company on nothing but phone or email.
    """
    if kind == "company":
        own = core_key(name or "")
        return f"@{own}" if own else None
    at = core_key(company) if company else ""
    if not at:
        return None
    return f"{validate.name_key(name or '')}@{at}"


def near_names(name: str | None, other: str | None) -> bool:
    """Whether two names are near (rapidfuzz), such as 魏博 and 魏 博 or Jon and John Smith."""
    if not name or not other:
        return False
    from rapidfuzz import fuzz

    first, second = validate.name_key(name), validate.name_key(other)
    return bool(first and second and fuzz.ratio(first, second, score_cutoff=NEAR_NAME_CUTOFF))


@dataclass(frozen=True)
class DuplicateKeys:
    """What the rule compares of one customer (or of one typed or imported row)."""

    phone: str | None
    email: str | None
    match_key: str | None
    name: str | None = None

    @classmethod
    def of(cls, name: str, kind: str | None, company: str | None, phone: str | None,
           email: str | None) -> DuplicateKeys:
        return cls(phone or None, email or None, match_key(name, kind, company), name)


def match_reasons(one: DuplicateKeys, other: DuplicateKeys) -> list[str]:
    """Why two customers are one (``SAME_PHONE``, ...), the strongest first; empty if they are
    not. A near name counts only with the same phone, a name only with the same company."""
    reasons = []
    if one.phone and one.phone == other.phone:
        reasons.append(SAME_PHONE)
    if one.email and one.email == other.email:
        reasons.append(SAME_EMAIL)
    if one.match_key and one.match_key == other.match_key and not (
        one.phone and other.phone and one.phone != other.phone
    ):
        reasons.append(SAME_NAME_AND_COMPANY)
    if SAME_PHONE in reasons and near_names(one.name, other.name):
        reasons.append(NEAR_NAME_AND_PHONE)
    return sorted(reasons, key=lambda reason: -STRENGTH[reason])


def duplicates_select(match: Any, phone: Any, email: Any, exclude_id: Any) -> Select[Any]:
    """Rows (id, owner_id, phone, email, match_key, login, name) of the customers that
    duplicate these keys, the strongest matches first: ``phone``, ``email`` and ``match_key``
    hold the given value where it matched, else NULL, and ``login``/``name`` are the owner's.
    Names nothing else of a customer.

    Each argument is a value (None: not given) or an SQL expression, such as a function's
    parameter, that may be NULL when the statement runs. One index lookup per key (a UNION,
    not an OR the planner may scan the table for).
    """
    found = customer_t.alias("k")
    lookups = [
        select(found.c.id).where(column == _sql(value))
        for column, value in ((found.c.phone, phone), (found.c.email, email))
        if value is not None
    ]
    if match is not None:
        lookups.append(select(found.c.id).where(found.c.match_key == _sql(match),
                                                _phones_agree(found, phone)))
    if not lookups:
        lookups = [select(found.c.id).where(literal(False))]
    same_phone = _where_equal(customer_t.c.phone, phone)
    same_email = _where_equal(customer_t.c.email, email)
    statement = (
        select(
            customer_t.c.id, customer_t.c.owner_id,
            same_phone.label("phone"), same_email.label("email"),
            (cast(case((and_(customer_t.c.match_key == _sql(match),
                             _phones_agree(customer_t, phone)), _sql(match)), else_=null()), Text)
             if match is not None else cast(null(), Text)).label("match_key"),
            cast(rep_t.c.login, Text).label("login"), cast(rep_t.c.name, Text).label("name"),
        )
        .select_from(customer_t.outerjoin(rep_t, rep_t.c.id == customer_t.c.owner_id))
        .where(customer_t.c.id.in_(union(*lookups)) if len(lookups) > 1 else
               customer_t.c.id.in_(lookups[0]))
        .order_by(case((or_(same_phone.is_not(None), same_email.is_not(None)), 0), else_=1),
                  customer_t.c.id)
        .limit(DUPLICATES_LIMIT)
    )
    if isinstance(exclude_id, ColumnElement):
        statement = statement.where(or_(exclude_id.is_(None), customer_t.c.id != exclude_id))
    elif exclude_id is not None:
        statement = statement.where(customer_t.c.id != exclude_id)
    return statement


def duplicate_owners_body(schema: str, guard: str) -> str:
    """``duplicates_select`` as PostgreSQL text for the body of a SQL function whose parameters
    are ``DUPLICATE_OWNERS_PARAMETERS``, its tables in ``schema``, restricted by ``guard``."""
    from sqlalchemy.dialects import postgresql

    match, phone, email, exclude_id = (
        literal_column(name, Integer if name == "p_exclude_id" else Text)
        for name in DUPLICATE_OWNERS_PARAMETERS
    )
    statement = duplicates_select(match, phone, email, exclude_id)
    compiled = statement.where(text(guard)).compile(
        dialect=postgresql.dialect(),
        schema_translate_map={None: schema},
        render_schema_translate=True,
        compile_kwargs={"literal_binds": True},
    )
    return str(compiled)


def _phones_agree(table: Any, phone: Any) -> Any:
    """Not two known, different phones (the veto on "same name at the same company")."""
    if isinstance(phone, ColumnElement):
        return or_(phone.is_(None), table.c.phone.is_(None), table.c.phone == phone)
    if phone is None:
        return true()
    return or_(table.c.phone.is_(None), table.c.phone == _sql(phone))


def _sql(value: Any) -> Any:
    return value if isinstance(value, ColumnElement) else literal(value)


def _where_equal(column: Any, value: Any) -> Any:
    """``value`` where ``column`` equals it, else NULL."""
    if value is None:
        return cast(null(), Text)
    return cast(case((column == _sql(value), _sql(value)), else_=null()), Text)


@dataclass
class DuplicateMatch:
    """One customer the duplicate check found, and the strongest reason it matched."""

    customer_id: int
    owner_id: int | None
    owner_login: str | None
    owner_name: str | None
    matched_on: str


class Duplicates(Visibility):
    """The duplicate check's reading: every rep's customers, owners named and nothing more."""

    def duplicate_candidates(
        self, conn: Connection, match: str | None, phone: str | None, email: str | None,
        exclude_id: int | None,
    ) -> Sequence[Any]:
        """``duplicates_select``'s rows for these keys (empty: not given), read past row-level
        security (``security.SecurityOps`` does that part on PostgreSQL)."""
        return conn.execute(
            duplicates_select(match or None, phone or None, email or None, exclude_id)
        ).all()

    def duplicate_matches(
        self, conn: Connection, keys: DuplicateKeys, exclude_id: int | None = None
    ) -> list[DuplicateMatch]:
        """Customers (anyone's) that duplicate ``keys``, the strongest match first."""
        matches = []
        for row in self.duplicate_candidates(conn, keys.match_key, keys.phone, keys.email,
                                             exclude_id):
            found = DuplicateKeys(row.phone, row.email, row.match_key)
            reasons = match_reasons(keys, found)
            if reasons:
                matches.append(DuplicateMatch(row.id, row.owner_id, row.login, row.name,
                                              reasons[0]))
        matches.sort(key=lambda match: (-STRENGTH[match.matched_on], match.customer_id))
        return matches
