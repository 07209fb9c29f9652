"""printable text: PostgreSQL refuses control characters in text the app prints

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 12:00:00

Issue 22, item 3: a rep at a psql prompt could write ESC/OSC sequences into a customer's name,
which ``crm export`` then printed raw to a terminal; the app's validation (``validate.text``)
had nothing in the database behind it. Now a CHECK constraint on every printed text column
refuses what ``validate.text`` refuses: C0 and C1 control characters, except the tab anywhere
and the newline in multi-line text (notes, follow-up summaries, audit values), and in
``customer.extra`` (JSON) the same characters written raw or as ``\\u`` escapes.

Rows already holding such characters are mended first, since a constraint must hold for every
row: in single-line text a line break becomes a space, and every other such character becomes
U+FFFD (the replacement character), so the spot stays visible; a mended unique value (a tag, a
login) that would collide gets `` #id``. PostgreSQL only: on SQLite whoever may write the file
may change anything, the README says so, and the app's validation is what holds there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SINGLE_LINE = r"[\u0001-\u0008\u000a-\u001f\u007f-\u009f]"
"""Control characters but the tab (the pattern, as PostgreSQL's regular expressions read it)."""
MULTI_LINE = r"[\u0001-\u0008\u000b-\u001f\u007f-\u009f]"
"""Control characters but the tab and the newline."""
JSON_RAW = r"[\u0001-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]"
"""Raw in JSON text: between tokens a tab, newline or carriage return is only white space."""
JSON_ESCAPED = r"(^|[^\\])(\\\\)*\\(u00(0[0-8bBcCdDeEfF]|1[0-9a-fA-F]|7[fF]|[89][0-9a-fA-F])|[bfr])"
"""An escape (after an even number of backslashes) that decodes to a control character."""

TEXT_COLUMNS: dict[str, tuple[list[str], list[str]]] = {
    # table: (single-line columns, multi-line columns)
    "rep": (["login", "name", "role", "team"], []),
    "customer": (["name", "kind", "company", "industry", "region", "address", "phone", "email",
                  "source", "status", "tier", "release_reason"], ["notes"]),
    "contact": (["name", "title", "phone", "email", "wechat"], []),
    "follow_up": (["channel"], ["summary"]),
    "deal": (["title", "stage"], []),
    "tag": (["name"], []),
    "ownership_event": (["kind", "reason"], []),
    "audit_event": (["entity", "action", "field"], ["old", "new"]),
}
UNIQUE = {("rep", "login"), ("tag", "name")}

_SINGLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_MULTI = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile(r"[\r\n]+")


def mend(value: str, multiline: bool) -> str:
    """``value`` with its control characters made visible and harmless (see the docstring)."""
    if multiline:
        return _MULTI.sub("\ufffd", value.replace("\r\n", "\n"))
    return _SINGLE.sub("\ufffd", _LINE_BREAKS.sub(" ", value))


def _mend_json(value: Any) -> Any:
    if isinstance(value, str):
        return mend(value, multiline=True)
    if isinstance(value, list):
        return [_mend_json(item) for item in value]
    if isinstance(value, dict):
        return {_mend_json(key): _mend_json(item) for key, item in value.items()}
    return value


def _mend_rows(bind: sa.Connection, table: str, column: str, multiline: bool) -> None:
    pattern = MULTI_LINE if multiline else SINGLE_LINE
    t = sa.table(table, sa.column("id", sa.Integer), sa.column(column, sa.Text))
    rows = bind.execute(sa.select(t.c.id, t.c[column]).where(t.c[column].regexp_match(pattern))).all()
    for row_id, value in rows:
        mended = mend(value, multiline)
        if (table, column) in UNIQUE and bind.execute(
            sa.select(sa.func.count()).select_from(t).where(t.c[column] == mended, t.c.id != row_id)
        ).scalar():
            mended = f"{mended} #{row_id}"
        bind.execute(sa.update(t).where(t.c.id == row_id).values({column: mended}))


def _mend_extra(bind: sa.Connection) -> None:
    t = sa.table("customer", sa.column("id", sa.Integer), sa.column("extra", sa.JSON))
    raw = sa.cast(t.c.extra, sa.Text)
    rows = bind.execute(
        sa.select(t.c.id, raw).where(sa.or_(raw.regexp_match(JSON_RAW), raw.regexp_match(JSON_ESCAPED)))
    ).all()
    for row_id, text in rows:
        bind.execute(sa.update(t).where(t.c.id == row_id).values(extra=_mend_json(json.loads(text))))


def _quoted(pattern: str) -> str:
    return "'" + pattern.replace("'", "''") + "'"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table, (single, multi) in TEXT_COLUMNS.items():
        for column, multiline in [*((c, False) for c in single), *((c, True) for c in multi)]:
            _mend_rows(bind, table, column, multiline)
            pattern = MULTI_LINE if multiline else SINGLE_LINE
            op.create_check_constraint(f"{column}_printable", table,
                                       f"{column} !~ {_quoted(pattern)}")
    _mend_extra(bind)
    op.create_check_constraint(
        "extra_printable", "customer",
        f"extra::text !~ {_quoted(JSON_RAW)} AND extra::text !~ {_quoted(JSON_ESCAPED)}",
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.drop_constraint(op.f("ck_customer_extra_printable"), "customer", type_="check")
    for table, (single, multi) in TEXT_COLUMNS.items():
        for column in [*single, *multi]:
            op.drop_constraint(op.f(f"ck_{table}_{column}_printable"), table, type_="check")
