"""Finding customers: the search condition over the token index, ranking, and first pages.

A first page never sorts every match of a common term (``张`` matches a fifth of a million
customers): exact and prefix name matches come from the name index, and the rest from the token
index walked in id order with a LIMIT, so a keystroke costs a few milliseconds at any size.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import Connection, Select, and_, case, func, literal_column, or_, select, text
from sqlalchemy.sql import ColumnElement

from crm_tui.store import validate
from crm_tui.store.db.base import StoreBase, customer_select, customer_t
from crm_tui.store.records import Actor, CustomerRecord
from crm_tui.store.schema.tables import contact as contact_t
from crm_tui.store.search.sort_key import has_cjk, sort_prefix
from crm_tui.store.search.tokens import (
    FIELD_COUNT,
    digit_grams,
    is_digit_run,
    match_tier,
    needs_check,
    query_terms,
)

RANK_CAP = 500
"""A match set this small is ranked whole (by field, then name); a larger one is not sorted."""


class SearchOps(StoreBase):
    """Search-as-you-type and ``crm find``: one condition, both backends."""

    def search_condition(self, query: str, conn: Connection | None = None) -> ColumnElement[bool] | None:
        """A WHERE clause matching ``query`` against the token index; None for an empty query.

        Every term must match the start of some token (so ``zw`` finds 张伟 by its initials,
        ``8000`` any phone containing 8000). Terms hold only letters and digits, so nothing a
        user types reaches the FTS5 or tsquery syntax.
        """
        terms = query_terms(query)
        if not terms:
            return None
        if self.is_sqlite:
            matched: ColumnElement[bool] = customer_t.c.id.in_(
                select(literal_column("rowid"))
                .select_from(text("customer_fts"))
                .where(text("customer_fts MATCH :fts_query").bindparams(fts_query=fts_query(terms)))
            )
        elif conn is not None and self._search_under_rls(conn):
            # Row-level security hides the GIN index from @@; the definer function searches.
            matched = customer_t.c.id.in_(
                select(literal_column("crm_search_ids"))
                .select_from(func.crm_search_ids(ts_query(terms)))
            )
        else:
            matched = _tsvector().op("@@")(
                func.to_tsquery(literal_column("'simple'::regconfig"), ts_query(terms))
            )
        return and_(matched, *digit_run_checks(terms))

    def _search_under_rls(self, conn: Connection) -> bool:
        rls_applies = getattr(self, "rls_applies", None)
        return bool(rls_applies and rls_applies(conn))

    def _rank(self, query: str) -> list[ColumnElement[int]]:
        """ORDER BY terms for a whole match set: exact name first, then name prefix (case and
        punctuation aside, as ``name_key`` holds it)."""
        key = validate.name_key(query)
        if not key:
            return []
        return [
            case((customer_t.c.name_key == key, 0), else_=1),
            case((customer_t.c.name_key.startswith(key, autoescape=True), 0), else_=1),
        ]

    def find(
        self,
        actor: Actor,
        query: str = "",
        *,
        scope: str = "all",
        limit: int = 50,
        offset: int = 0,
    ) -> list[CustomerRecord]:
        """Visible customers matching ``query`` in ``scope`` (all, mine, pool), best first."""
        with self.read() as conn:
            return self._find(conn, actor, query, scope=scope, limit=limit, offset=offset)

    def _find(
        self, conn: Connection, actor: Actor, query: str, *, scope: str, limit: int, offset: int
    ) -> list[CustomerRecord]:
        if self.search_condition(query) is None:
            statement = (
                customer_select().where(self.scope_clause(actor, scope))
                .order_by(customer_t.c.sort_key, customer_t.c.id)
                .limit(limit).offset(max(0, offset))
            )
            return self._records(conn, conn.execute(statement).all(), actor)
        ids = self._ranked_ids(conn, actor, query, scope, limit + max(0, offset))[max(0, offset):]
        return self._records_by_ids(conn, actor, ids)

    def _records_by_ids(self, conn: Connection, actor: Actor, ids: list[int]) -> list[CustomerRecord]:
        """Records of ``ids``, in that order."""
        if not ids:
            return []
        rows = {row.id: row for row in conn.execute(customer_select().where(customer_t.c.id.in_(ids)))}
        return self._records(conn, [rows[i] for i in ids if i in rows], actor)

    def _ranked_ids(
        self, conn: Connection, actor: Actor, query: str, scope: str, wanted: int
    ) -> list[int]:
        """The first ``wanted`` matching ids in ``scope``, best first (``_rank_ids``)."""
        return self._rank_ids(conn, query, self.scope_clause(actor, scope), wanted)[0]

    def _rank_ids(
        self, conn: Connection, query: str, visible: ColumnElement[bool], wanted: int
    ) -> tuple[list[int], bool]:
        """The first ``wanted`` matching ids, best first, and whether they are all the matches.

        First the names the query spells out (``_name_head``: the whole name, then its start,
        case and punctuation aside). Then, when the matches are few enough to rank
        (``RANK_CAP``), the rest by where the query's terms are found — name, company,
        contacts, other fields (``tokens.match_tier``) — and by name; past that, the rest in
        id order from the token index, stopping after ``wanted``: no query here sorts a large
        match set.
        """
        head = self._name_head(conn, query, visible, wanted)
        if len(head) >= wanted:
            return head[:wanted], False
        seen = set(head)
        rest = self._match_ids(conn, query, visible)
        capped = list(conn.execute(rest.limit(RANK_CAP + 1)).scalars())
        if len(capped) <= RANK_CAP:
            ranked = self._by_tier(conn, query, visible, seen)
            everything = head + ranked
            return everything[:wanted], len(everything) <= wanted
        if wanted + len(seen) <= len(capped):
            ranked = [cid for cid in capped if cid not in seen]
        else:
            more = conn.execute(rest.limit(wanted + len(seen))).scalars()
            ranked = [cid for cid in more if cid not in seen]
        return (head + ranked)[:wanted], False

    def _name_head(self, conn: Connection, query: str, visible: ColumnElement[bool],
                   wanted: int) -> list[int]:
        """Matches whose name is the query (case and punctuation aside), then those whose name
        starts with it, by name; from the sort key's index (alone, or after ``owner_id`` for a
        rep), so a common prefix costs no more than ``wanted`` rows."""
        return self._name_head_read(conn, query, visible, wanted)[0]

    def _name_head_read(self, conn: Connection, query: str, visible: ColumnElement[bool],
                        wanted: int) -> tuple[list[int], bool]:
        """``_name_head``, and whether it read every name in the range (fewer than ``wanted``).

        The range is the names whose sort key starts with the query's (``sort_prefix``); names
        that only read alike (章伟 for 张伟) are in it too, so each is checked against the
        query's terms, except where one Latin word or run of digits is the whole query: it
        starts a token of every name in its range (the name's first word, or its words joined).
        """
        key = validate.name_key(query)
        terms = query_terms(query)
        cjk = has_cjk(query)
        if not key or not terms or (not cjk and not sort_prefix(query)):
            return [], True
        if cjk and not self._names_in_code_point_order(conn):
            return [], True  # no index reads a name range in this collation: rank the matches
        check = terms != [key] or not key.isascii()
        order = customer_t.c.name if cjk else customer_t.c.sort_key
        candidates = conn.execute(
            select(customer_t.c.id, customer_t.c.name_key,
                   customer_t.c.search_text if check else literal_column("''").label("search_text"))
            .where(sort_key_range(query), visible)
            .order_by(order, customer_t.c.id)
            .limit(wanted)
        ).all()
        matching = [row for row in candidates
                    if not check or match_tier(row.search_text, terms) < FIELD_COUNT]
        return ([row.id for row in matching if row.name_key == key]
                + [row.id for row in matching if row.name_key != key]), len(candidates) < wanted

    def _names_in_code_point_order(self, conn: Connection) -> bool:
        """Whether the ``name`` index orders names by code point, so a range on it holds the
        names that start with a text: SQLite's binary collation, a PostgreSQL database made
        with the C collation (C.UTF-8 on Debian). Asked once per store."""
        if self.is_sqlite:
            return True
        known = self.__dict__.get("_name_order_is_code_point")
        if known is None:
            collation = conn.execute(
                text("SELECT datcollate FROM pg_database WHERE datname = current_database()")
            ).scalar()
            known = str(collation or "").split(".")[0].upper() in ("C", "POSIX")
            self.__dict__["_name_order_is_code_point"] = known
        return bool(known)

    def _by_tier(self, conn: Connection, query: str, visible: ColumnElement[bool],
                 seen: set[int]) -> list[int]:
        """The matches (at most ``RANK_CAP``) not in ``seen``, by where the terms are found,
        then by name. Read with their tokens in the one query that matches them."""
        terms = query_terms(query)
        rows = conn.execute(self._match_ids(conn, query, visible, customer_t.c.search_text,
                                            customer_t.c.sort_key)).all()
        ordered = sorted((row for row in rows if row.id not in seen),
                         key=lambda row: (match_tier(row.search_text, terms), row.sort_key, row.id))
        return [row.id for row in ordered]

    def _match_ids(self, conn: Connection, query: str, visible: ColumnElement[bool],
                   *also: ColumnElement[Any]) -> Select[Any]:
        """Matching ids (and the columns ``also``) in id order (no LIMIT yet), driven by the
        token index."""
        if self.is_sqlite:
            match = text("customer_fts MATCH :fts_query").bindparams(
                fts_query=fts_query(query_terms(query)))
            rowid: ColumnElement[Any] = literal_column("customer_fts.rowid")
            return (
                select(customer_t.c.id, *also)
                .select_from(customer_t.join(text("customer_fts"), rowid == customer_t.c.id))
                .where(match, visible, *digit_run_checks(query_terms(query)))
                .order_by(rowid)
            )
        condition = self.search_condition(query, conn)
        assert condition is not None  # callers ask only for a query with terms
        return select(customer_t.c.id, *also).where(condition, visible).order_by(customer_t.c.id)

    def search_ids(self, actor: Actor, query: str, scope: str = "all", limit: int = 50) -> list[int]:
        """Ids of the best ``limit`` visible matches (``resolve_customer`` uses it)."""
        if not query_terms(query):
            return []
        with self.read() as conn:
            return self._ranked_ids(conn, actor, query, scope, limit)


def sort_key_range(query: str) -> ColumnElement[bool]:
    """Customers whose name starts with the query (``_name_head``'s range; an index serves it).

    A Latin query: the sort key starts with the query's (keys hold only 0-9a-z, so ``~`` is past
    every one that starts with it). A query with Chinese characters: the name itself starts with
    it (the ``owner_id, name`` index), since its sort key would need pinyin, whose import alone
    costs ``crm find`` twice its budget (DESIGN §9); names read alike (章伟 for 张伟) are not
    spelled out by such a query anyway.
    """
    if has_cjk(query):
        text_prefix = "".join(char for char in unicodedata.normalize("NFKC", query).strip()
                              if not unicodedata.category(char).startswith("C"))
        return and_(customer_t.c.name >= text_prefix, customer_t.c.name < text_prefix + "\U0010ffff")
    prefix = sort_prefix(query)
    return and_(customer_t.c.sort_key >= prefix, customer_t.c.sort_key < prefix + "~")


def fts_query(terms: list[str]) -> str:
    """An FTS5 MATCH expression: every term as a quoted prefix (terms are letters and digits);
    a run of four digits or more as its 4-grams, exact (``digit_run_checks`` verifies it)."""
    parts: list[str] = []
    for term in terms:
        if is_digit_run(term):
            parts += [f'"{gram}"' for gram in digit_grams(term)]
        else:
            parts.append(f'"{term}"*')
    return " AND ".join(parts)


def ts_query(terms: list[str]) -> str:
    """A PostgreSQL tsquery: every term as a prefix; a long digit run as its exact 4-grams."""
    parts: list[str] = []
    for term in terms:
        if is_digit_run(term):
            parts += digit_grams(term)
        else:
            parts.append(f"{term}:*")
    return " & ".join(parts)


def digit_run_checks(terms: list[str]) -> list[ColumnElement[bool]]:
    """For each long digit run: the customer's own or a contact's text really holds it.

    The 4-grams only say the digits are there somewhere; this keeps numbers that hold them
    scattered out. It reads the stored values (phones are E.164, so digits are contiguous),
    and only for rows the index already matched.
    """
    checks: list[ColumnElement[bool]] = []
    for term in terms:
        if not needs_check(term):
            continue
        pattern = f"%{term}%"  # digits only: nothing to escape
        in_contact = (
            select(literal_column("1"))
            .where(contact_t.c.customer_id == customer_t.c.id,
                   or_(contact_t.c.phone.like(pattern), contact_t.c.email.like(pattern),
                       contact_t.c.name.like(pattern)))
            .exists()
        )
        checks.append(or_(customer_t.c.phone.like(pattern), customer_t.c.email.like(pattern),
                          customer_t.c.name.like(pattern), customer_t.c.company.like(pattern),
                          in_contact))
    return checks


def _tsvector() -> ColumnElement[Any]:
    return func.to_tsvector(literal_column("'simple'::regconfig"), customer_t.c.search_text)
