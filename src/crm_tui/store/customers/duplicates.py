"""What a duplicate is (DESIGN §5): any rep's customer with the same normalised name, phone or
email. Defined once, by ``duplicates_select``; the store runs it directly, and on PostgreSQL
under row-level security through the ``crm_duplicate_owners`` function (``security/row_level.py``),
whose body is this same SELECT compiled with the function's parameters in place of values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    Text,
    case,
    cast,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    union,
)
from sqlalchemy.sql import ColumnElement

from crm_tui.store.customers.visibility import Visibility
from crm_tui.store.schema.tables import customer as customer_t
from crm_tui.store.schema.tables import rep as rep_t

DUPLICATES_LIMIT = 20
"""Most matches one check reports (the first ones by id)."""

DUPLICATE_OWNERS_PARAMETERS = ("p_name_key", "p_phone", "p_email", "p_exclude_id")
"""The parameters of the SQL function built from ``duplicates_select``, in order."""


def duplicates_select(name_key: Any, phone: Any, email: Any, exclude_id: Any) -> Select[Any]:
    """Rows (id, owner_id, phone, email, login, name) of the customers that duplicate these
    keys: ``phone`` and ``email`` hold the given value where it matched, else NULL, and
    ``login``/``name`` are the owner's. Names nothing else of a customer.

    Each argument is a value (None: not given) or an SQL expression, such as a function's
    parameter, that may be NULL when the statement runs. One index lookup per key (a UNION,
    not an OR the planner may scan the table for).
    """
    found = customer_t.alias("k")
    lookups = [
        select(found.c.id).where(column == _sql(value))
        for column, value in ((found.c.name_key, name_key), (found.c.phone, phone),
                              (found.c.email, email))
        if value is not None
    ]
    statement = (
        select(
            customer_t.c.id, customer_t.c.owner_id,
            _where_equal(customer_t.c.phone, phone).label("phone"),
            _where_equal(customer_t.c.email, email).label("email"),
            cast(rep_t.c.login, Text).label("login"), cast(rep_t.c.name, Text).label("name"),
        )
        .select_from(customer_t.outerjoin(rep_t, rep_t.c.id == customer_t.c.owner_id))
        .where(customer_t.c.id.in_(union(*lookups)) if len(lookups) > 1 else
               customer_t.c.id.in_(lookups[0]))
        .order_by(customer_t.c.id)
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

    name_key, phone, email, exclude_id = (
        literal_column(name, Integer if name == "p_exclude_id" else Text)
        for name in DUPLICATE_OWNERS_PARAMETERS
    )
    statement = duplicates_select(name_key, phone, email, exclude_id)
    compiled = statement.where(text(guard)).compile(
        dialect=postgresql.dialect(),
        schema_translate_map={None: schema},
        render_schema_translate=True,
        compile_kwargs={"literal_binds": True},
    )
    return str(compiled)


def _sql(value: Any) -> Any:
    return value if isinstance(value, ColumnElement) else literal(value)


def _where_equal(column: Any, value: Any) -> Any:
    """``value`` where ``column`` equals it, else NULL."""
    if value is None:
        return cast(null(), Text)
    return cast(case((column == _sql(value), _sql(value)), else_=null()), Text)


class Duplicates(Visibility):
    """The duplicate check's reading: every rep's customers, owners named and nothing more."""

    def duplicate_candidates(
        self, conn: Connection, name_key: str, phone: str | None, email: str | None,
        exclude_id: int | None,
    ) -> Sequence[Any]:
        """``duplicates_select``'s rows for these keys (empty phone or email: not given), read
        past row-level security (``security.SecurityOps`` does that part on PostgreSQL)."""
        return conn.execute(
            duplicates_select(name_key, phone or None, email or None, exclude_id)
        ).all()
