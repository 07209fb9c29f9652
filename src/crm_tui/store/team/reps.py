"""The team: reps, their roles and teams, and how a new rep will be identified (DESIGN §5)."""

from __future__ import annotations

import pwd

from sqlalchemy import Connection, func, insert, select, text

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
            had_role = self._login_role_exists(conn, clean_login)
            self._after_rep_added(conn, clean_login)
            identity = None if actor is None else self._identity_note(conn, clean_login, had_role)
        if identity:
            self._note(identity)
        return RepRecord(rep_id, clean_login, clean_name, clean_role, clean_team, True, 0)

    def _after_rep_added(self, conn: Connection, login: str) -> None:
        """Hook for PostgreSQL role provisioning (the visibility part overrides it)."""

    def _login_role_exists(self, conn: Connection, login: str) -> bool | None:
        """Whether PostgreSQL has a role named ``login`` (None on SQLite, which has no roles)."""
        if self.is_sqlite:
            return None
        return bool(conn.execute(text("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :login)"),
                                 {"login": login}).scalar())

    def _identity_note(self, conn: Connection, login: str, had_role: bool | None) -> str | None:
        """How the rep ``login``, just added, will be identified, when the admin should know.

        The acting rep is the operating-system account on SQLite and the PostgreSQL login role
        on PostgreSQL (DESIGN §5), never a name a user types; an admin may add a rep before the
        account exists, so a missing one is said, not refused. Nothing to say on SQLite when
        the account exists here.
        """
        if self.is_sqlite:
            try:
                pwd.getpwnam(login)
            except KeyError:
                return (f"no OS account {login!r} on this machine: {login} will be identified by "
                        f"the operating-system account named {login} when they run crm.")
            return None
        if had_role:
            can_login = conn.execute(text("SELECT rolcanlogin FROM pg_roles WHERE rolname = :login"),
                                     {"login": login}).scalar()
            if not can_login:
                return (f"the PostgreSQL role {login} exists but may not log in: {login} will be "
                        f"identified by it once a database administrator runs `ALTER ROLE "
                        f"{conn.dialect.identifier_preparer.quote_identifier(login)} LOGIN`.")
            return (f"{login} will be identified by the existing PostgreSQL login role {login} "
                    "when they connect.")
        if self._login_role_exists(conn, login):
            return (f"Created the PostgreSQL login role {login}: {login} will be identified by it "
                    "when they connect.")
        return (f"no PostgreSQL role {login!r} yet: {login} will be identified by the login role "
                f"named {login} once it exists.")

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
