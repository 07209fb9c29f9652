"""Finding customers: the search condition over the token index, ranking, and listings."""

from __future__ import annotations

from sqlalchemy import Connection, case, func, literal_column, select, text
from sqlalchemy.sql import ColumnElement

from .base import StoreBase, customer_select, customer_t
from .records import Actor, CustomerRecord
from .search_tokens import query_terms


class SearchOps(StoreBase):
    """Search-as-you-type and ``crm find``: one condition, both backends."""

    def search_condition(self, query: str) -> ColumnElement[bool] | None:
        """A WHERE clause matching ``query`` against the token index; None for an empty query.

        Every term must match the start of some token (so ``zw`` finds 张伟 by its initials,
        ``8000`` any phone containing 8000). Terms hold only letters and digits, so nothing a
        user types reaches the FTS5 or tsquery syntax.
        """
        terms = query_terms(query)
        if not terms:
            return None
        if self.is_sqlite:
            match = " AND ".join(f'"{term}"*' for term in terms)
            return customer_t.c.id.in_(
                select(literal_column("rowid"))
                .select_from(text("customer_fts"))
                .where(text("customer_fts MATCH :fts_query").bindparams(fts_query=match))
            )
        tsquery = " & ".join(f"{term}:*" for term in terms)
        return func.to_tsvector(literal_column("'simple'::regconfig"), customer_t.c.search_text).op("@@")(
            func.to_tsquery(literal_column("'simple'::regconfig"), tsquery)
        )

    def _rank(self, query: str) -> list[ColumnElement[int]]:
        needle = query.strip()
        return [
            case((customer_t.c.name == needle, 0), else_=1),
            case((customer_t.c.name.startswith(needle, autoescape=True), 0), else_=1),
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
        statement = customer_select().where(self.scope_clause(actor, scope))
        condition = self.search_condition(query)
        if condition is not None:
            statement = statement.where(condition).order_by(*self._rank(query), customer_t.c.id)
        else:
            statement = statement.order_by(customer_t.c.name, customer_t.c.id)
        rows = conn.execute(statement.limit(limit).offset(offset)).all()
        return self._records(conn, rows, actor)

    def search_ids(self, actor: Actor, query: str, scope: str = "all", limit: int = 50) -> list[int]:
        condition = self.search_condition(query)
        if condition is None:
            return []
        with self.read() as conn:
            return list(conn.execute(
                select(customer_t.c.id)
                .where(self.scope_clause(actor, scope), condition)
                .order_by(*self._rank(query), customer_t.c.id)
                .limit(limit)
            ).scalars())
