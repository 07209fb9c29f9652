"""The team: reps, their roles and teams."""

from __future__ import annotations

from sqlalchemy import Connection, func, insert, select

from crm_tui.store import validate
from crm_tui.store.db.base import StoreBase, customer_t, rep_t
from crm_tui.store.errors import AlreadyExists, PermissionDenied
from crm_tui.store.records import Actor, RepRecord


class RepOps(StoreBase):
    """Listing and adding reps (deactivation lives with the open-sea rules)."""

    def list_reps(self, actor: Actor, *, include_inactive: bool = True) -> list[RepRecord]:
        owned = (
            select(customer_t.c.owner_id, func.count().label("n"))
            .where(customer_t.c.owner_id.is_not(None))
            .group_by(customer_t.c.owner_id)
            .subquery()
        )
        statement = (
            select(rep_t, func.coalesce(owned.c.n, 0).label("customers"))
            .select_from(rep_t.outerjoin(owned, owned.c.owner_id == rep_t.c.id))
            .order_by(rep_t.c.login)
        )
        if not include_inactive:
            statement = statement.where(rep_t.c.active.is_(True))
        with self.read() as conn:
            return [
                RepRecord(row.id, row.login, row.name, row.role, row.team, bool(row.active),
                          int(row.customers))
                for row in conn.execute(statement)
            ]

    def add_rep(
        self, actor: Actor | None, login: str, name: str, *, role: str = "rep",
        team: str | None = None,
    ) -> RepRecord:
        """Add a rep; only admins may (``actor`` None is the bootstrap of ``crm init``)."""
        if actor is not None and not actor.is_admin:
            raise PermissionDenied("Only an admin may add reps.")
        clean_login = validate.login(login)
        clean_name = validate.text("name", name, required=True, limit=100) or clean_login
        clean_role = validate.role(role)
        clean_team = validate.text("team", team, limit=64)
        with self.write() as conn:
            existing = conn.execute(select(rep_t.c.id).where(rep_t.c.login == clean_login)).scalar()
            if existing is not None:
                raise AlreadyExists(f"The rep {clean_login!r} already exists.", None, clean_login)
            rep_id = conn.execute(
                insert(rep_t).values(login=clean_login, name=clean_name, role=clean_role,
                                     team=clean_team, active=True, created_at=self.clock.now())
                .returning(rep_t.c.id)
            ).scalar_one()
            self._audit(conn, actor, "rep", rep_id, "create",
                        {"login": (None, clean_login), "role": (None, clean_role)})
            self._after_rep_added(conn, clean_login)
        return RepRecord(rep_id, clean_login, clean_name, clean_role, clean_team, True, 0)

    def _after_rep_added(self, conn: Connection, login: str) -> None:
        """Hook for PostgreSQL role provisioning (the visibility part overrides it)."""

    def impersonate(self, actor: Actor, login: str) -> Actor:
        """``--as LOGIN``: allowed to admins only, and written to the audit log."""
        if not actor.is_admin:
            raise PermissionDenied("Only an admin may act as another rep (--as).")
        target = self.actor(login)
        with self.write() as conn:
            self._audit(conn, actor, "rep", target.id, "act_as", {"as": (actor.login, target.login)})
        return target

    def has_reps(self) -> bool:
        with self.read() as conn:
            return conn.execute(select(rep_t.c.id).limit(1)).first() is not None
