"""Who may see what inside PostgreSQL: the ``crm_users`` role, grants and row-level security.

DESIGN §5. The store applies one visibility rule to every read (``StoreBase.visible``); on
PostgreSQL the same rule is also written into the database as row-level security policies, so a
rep who connects with ``psql`` sees what the app would show and no more:

- a rep sees their own private sea and the open sea; a manager also the private seas of their
  team; an admin everything; a role that is not an active rep of this database sees nothing;
- contacts, follow-ups, deals and tags of a customer are visible when the customer is; history
  (``ownership_event``, ``audit_event``) when its customer is, or when the rep took part in it;
- a rep writes only rows they may see, before and after the change: claim (pool to self) and
  release (own to pool) pass, taking or giving away another rep's customer does not;
- reps are added and changed by admins only; rules (settings) by managers and admins;
  history is append-only for reps.

The rep is ``current_user``: the role the connection logged in as (peer or password
authentication identifies it), the same identity ``config.acting_login`` uses.

Policies apply to members of ``crm_users``. The role that ran ``crm init`` owns the tables and,
like a superuser, is not subject to them (it is the first admin, who sees everything anyway);
row-level security is not FORCEd so the SECURITY DEFINER functions below, owned by it, can read
across it. Those functions are the only ways past the policies, and each says only who owns a
customer: ``crm_customer_owner(id)`` for "already claimed by X", ``crm_duplicate_owners(...)``
for the duplicate check's "already exists, owned by X".

The open-sea rules (caps, daily limits, cooldowns) stay the app's to enforce: a rep with
``psql`` could claim open-sea customers past them, but never see or take another rep's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from crm_tui.store.customers.duplicates import DUPLICATE_OWNERS_PARAMETERS, duplicate_owners_body
from crm_tui.store.db.base import StoreBase
from crm_tui.store.errors import PermissionDenied

GROUP_ROLE = "crm_users"

# Tables under row-level security, and tables reps may only read and append to.
RLS_TABLES = ("customer", "contact", "follow_up", "deal", "customer_tag", "ownership_event",
              "audit_event", "rep", "setting")
APPEND_ONLY_TABLES = ("ownership_event", "audit_event")
CUSTOMER_CHILD_TABLES = ("contact", "follow_up", "deal", "customer_tag")


def _helper_functions(s: str) -> list[str]:
    """Functions the policies call. SECURITY INVOKER on purpose: ``current_user`` inside a
    SECURITY DEFINER function is its owner, not the rep. Wrapped in ``(SELECT ...)`` by the
    policies, each runs once per statement, not once per row."""
    common = "LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp"
    me = f"FROM {s}.rep me WHERE me.login = current_user AND me.active"
    return [
        f"CREATE OR REPLACE FUNCTION {s}.crm_rep_id() RETURNS integer {common} "
        f"AS $$ SELECT me.id {me} $$",
        f"CREATE OR REPLACE FUNCTION {s}.crm_is_admin() RETURNS boolean {common} "
        f"AS $$ SELECT coalesce((SELECT me.role = 'admin' {me}), false) $$",
        f"CREATE OR REPLACE FUNCTION {s}.crm_is_manager() RETURNS boolean {common} "
        f"AS $$ SELECT coalesce((SELECT me.role IN ('manager', 'admin') {me}), false) $$",
        # The owners whose private seas the rep sees besides the open sea (admins: see policies).
        f"CREATE OR REPLACE FUNCTION {s}.crm_visible_owner_ids() RETURNS integer[] {common} "
        f"AS $$ SELECT CASE WHEN me.role = 'manager' AND me.team IS NOT NULL "
        f"THEN ARRAY(SELECT r.id FROM {s}.rep r WHERE r.team = me.team) "
        f"ELSE ARRAY[me.id] END {me} $$",
        # For people at a psql prompt: who am I to the CRM?
        f"CREATE OR REPLACE FUNCTION {s}.crm_current_rep() "
        f"RETURNS TABLE(id integer, login text, role text, team text) {common} "
        f"AS $$ SELECT me.id, me.login::text, me.role::text, me.team::text {me} $$",
    ]


def _definer_functions(s: str, schema_name: str) -> list[str]:
    """The ways past the policies; each names owners (or ids) and nothing else of a customer.

    ``s`` is the schema quoted for SQL text, ``schema_name`` the schema as it is named.
    """
    common = "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp"
    # Inside a SECURITY DEFINER function current_user is the owner: the caller is session_user.
    is_rep = f"EXISTS (SELECT 1 FROM {s}.rep me WHERE me.login = session_user AND me.active)"
    return [
        f"CREATE OR REPLACE FUNCTION {s}.crm_customer_owner(p_customer_id integer) "
        f"RETURNS TABLE(owner_id integer, owner_login text, owner_name text) {common} "
        f"AS $$ SELECT c.owner_id, r.login::text, r.name::text FROM {s}.customer c "
        f"LEFT JOIN {s}.rep r ON r.id = c.owner_id WHERE c.id = p_customer_id AND {is_rep} $$",
        # The duplicate check's own SELECT (customers/duplicates.py), with this guard added.
        f"CREATE OR REPLACE FUNCTION {s}.crm_duplicate_owners("
        f"p_name_key text, p_phone text, p_email text, p_exclude_id integer) "
        f"RETURNS TABLE(id integer, owner_id integer, phone text, email text, login text, "
        f"name text) {common} AS $$ {duplicate_owners_body(schema_name, is_rep)} $$",
        # Search through the GIN index. Under row-level security PostgreSQL will not use an
        # index for a non-LEAKPROOF operator such as @@ and scans the whole table instead; this
        # function searches as the owner and applies the visibility rule itself (for the
        # session's login), and the caller's own policies filter the ids once more.
        f"CREATE OR REPLACE FUNCTION {s}.crm_search_ids(p_tsquery text) "
        f"RETURNS SETOF integer {common} ROWS 200 AS $$ "
        f"SELECT c.id FROM {s}.customer c, {s}.rep me "
        f"WHERE to_tsvector('simple'::regconfig, c.search_text) "
        f"@@ to_tsquery('simple'::regconfig, p_tsquery) "
        f"AND me.login = session_user AND me.active "
        f"AND (c.owner_id IS NULL OR me.role = 'admin' OR c.owner_id = me.id "
        f"OR (me.role = 'manager' AND me.team IS NOT NULL "
        f"AND c.owner_id IN (SELECT r.id FROM {s}.rep r WHERE r.team = me.team))) $$",
    ]


DEFINER_SIGNATURES = (
    "crm_customer_owner(integer)",
    "crm_duplicate_owners(text, text, text, integer)",
    "crm_search_ids(text)",
)


def _policies(s: str) -> list[str]:
    """``CREATE POLICY`` statements; every name starts with ``crm_`` (they are replaced whole)."""
    me = f"(SELECT {s}.crm_rep_id())"
    admin = f"(SELECT {s}.crm_is_admin())"
    manager = f"(SELECT {s}.crm_is_manager())"
    owners = f"(SELECT {s}.crm_visible_owner_ids())::integer[]"

    def sees_owner(column: str) -> str:
        return f"({me} IS NOT NULL AND ({column} IS NULL OR {admin} OR {column} = ANY ({owners})))"

    def sees_customer(table: str, column: str) -> str:
        # The subquery is itself filtered by customer's policies: visible iff the customer is.
        return f"EXISTS (SELECT 1 FROM {s}.customer c WHERE c.id = {table}.{column})"

    to = f"TO {GROUP_ROLE}"
    visible = sees_owner("owner_id")
    out = [
        f"CREATE POLICY crm_customer_read ON {s}.customer FOR SELECT {to} USING {visible}",
        f"CREATE POLICY crm_customer_add ON {s}.customer FOR INSERT {to} WITH CHECK {visible}",
        f"CREATE POLICY crm_customer_change ON {s}.customer FOR UPDATE {to} "
        f"USING {visible} WITH CHECK {visible}",
        f"CREATE POLICY crm_customer_remove ON {s}.customer FOR DELETE {to} "
        f"USING ({admin} OR (owner_id IS NOT NULL AND {visible}))",
    ]
    for table in CUSTOMER_CHILD_TABLES:
        rule = sees_customer(table, "customer_id")
        out.append(f"CREATE POLICY crm_{table}_rows ON {s}.{table} FOR ALL {to} "
                   f"USING ({rule}) WITH CHECK ({rule})")
    took_part = (f"{me} IN (ownership_event.actor_id, ownership_event.from_rep_id, "
                 f"ownership_event.to_rep_id)")
    out += [
        f"CREATE POLICY crm_ownership_event_read ON {s}.ownership_event FOR SELECT {to} "
        f"USING ({sees_customer('ownership_event', 'customer_id')} OR {took_part})",
        f"CREATE POLICY crm_ownership_event_add ON {s}.ownership_event FOR INSERT {to} "
        f"WITH CHECK ({me} IS NOT NULL)",
    ]
    entity = "audit_event.entity_id"
    audit_visible = (
        f"audit_event.actor_id = {me} "
        f"OR (audit_event.entity = 'customer' AND EXISTS "
        f"(SELECT 1 FROM {s}.customer x WHERE x.id = {entity})) "
        f"OR (audit_event.entity = 'contact' AND EXISTS "
        f"(SELECT 1 FROM {s}.contact x WHERE x.id = {entity})) "
        f"OR (audit_event.entity = 'deal' AND EXISTS "
        f"(SELECT 1 FROM {s}.deal x WHERE x.id = {entity})) "
        f"OR (audit_event.entity = 'follow_up' AND EXISTS "
        f"(SELECT 1 FROM {s}.follow_up x WHERE x.id = {entity})) "
        f"OR ({me} IS NOT NULL AND audit_event.entity NOT IN "
        f"('customer', 'contact', 'deal', 'follow_up'))"
    )
    out += [
        f"CREATE POLICY crm_audit_event_read ON {s}.audit_event FOR SELECT {to} "
        f"USING ({audit_visible})",
        f"CREATE POLICY crm_audit_event_add ON {s}.audit_event FOR INSERT {to} "
        f"WITH CHECK ({me} IS NOT NULL)",
    ]
    # Rep logins are not secret. Changing reps is an admin's; the UPDATE policy's USING also
    # admits the rows a rep may lock (SELECT ... FOR UPDATE serialises their own claims).
    out += [
        f"CREATE POLICY crm_rep_read ON {s}.rep FOR SELECT {to} USING (true)",
        f"CREATE POLICY crm_rep_add ON {s}.rep FOR INSERT {to} WITH CHECK ({admin})",
        f"CREATE POLICY crm_rep_change ON {s}.rep FOR UPDATE {to} "
        f"USING ({admin} OR rep.id = ANY ({owners})) WITH CHECK ({admin})",
        f"CREATE POLICY crm_rep_remove ON {s}.rep FOR DELETE {to} USING ({admin})",
    ]
    # Rules are a manager's; the app's own bookkeeping (``state.*`` keys) anyone's.
    setting_write = f"({me} IS NOT NULL AND (left(setting.key, 6) = 'state.' OR {manager}))"
    out += [
        f"CREATE POLICY crm_setting_read ON {s}.setting FOR SELECT {to} USING (true)",
        f"CREATE POLICY crm_setting_add ON {s}.setting FOR INSERT {to} WITH CHECK {setting_write}",
        f"CREATE POLICY crm_setting_change ON {s}.setting FOR UPDATE {to} "
        f"USING {setting_write} WITH CHECK {setting_write}",
        f"CREATE POLICY crm_setting_remove ON {s}.setting FOR DELETE {to} USING {setting_write}",
    ]
    return out


class SecurityOps(StoreBase):
    """PostgreSQL roles, grants and row-level security; a no-op on SQLite (see the README)."""

    # --- notes for the person running the command ---------------------------------------------

    @property
    def security_notes(self) -> list[str]:
        """Sentences about role provisioning that did not happen (for the CLI to print)."""
        return self.__dict__.setdefault("_security_notes", [])

    def _note(self, message: str) -> None:
        self.security_notes.append(message)

    # --- is this connection filtered? ---------------------------------------------------------

    def rls_applies(self, conn: Connection) -> bool:
        if self.is_sqlite:
            return False
        cached = self.__dict__.get("_rls_applies")
        if cached is None:
            cached = bool(conn.execute(text("SELECT row_security_active('customer')")).scalar())
            self.__dict__["_rls_applies"] = cached
        return cached

    def customer_owner(self, conn: Connection, customer_id: int) -> Any | None:
        if not self.rls_applies(conn):
            return super().customer_owner(conn, customer_id)
        return conn.execute(
            text("SELECT owner_id, owner_login, owner_name FROM crm_customer_owner(:id)"),
            {"id": customer_id},
        ).first()

    def duplicate_candidates(
        self, conn: Connection, name_key: str, phone: str | None, email: str | None,
        exclude_id: int | None,
    ) -> Sequence[Any]:
        if not self.rls_applies(conn):
            return super().duplicate_candidates(conn, name_key, phone, email, exclude_id)
        arguments = ", ".join(f":{name}" for name in DUPLICATE_OWNERS_PARAMETERS)
        return conn.execute(
            text(f"SELECT id, owner_id, phone, email, login, name FROM crm_duplicate_owners({arguments})"),
            dict(zip(DUPLICATE_OWNERS_PARAMETERS, (name_key, phone or None, email or None, exclude_id),
                     strict=True)),
        ).all()

    # --- connection health --------------------------------------------------------------------

    def ping(self) -> None:
        """A round trip to the database; raises ``DatabaseUnavailable`` (one sentence) if it fails.

        The app polls it while showing its "connection lost" banner; the engine's pre-ping
        replaces connections a restarted server dropped, so the next operation just works.
        """
        with self.read() as conn:
            conn.execute(text("SELECT 1"))

    def is_available(self) -> bool:
        from crm_tui.store.errors import DatabaseUnavailable

        try:
            self.ping()
        except DatabaseUnavailable:
            return False
        return True

    # --- crm init -----------------------------------------------------------------------------

    def after_init(self) -> None:
        """Create ``crm_users``, grant it what the app needs, and (re)write the policies.

        Idempotent: run by every ``crm init``. Only the owner of the tables (who ran the first
        ``crm init``) or a superuser can do it; anyone else's ``crm init`` leaves it as it is.
        """
        super().after_init()
        if self.is_sqlite:
            return
        self.__dict__.pop("_rls_applies", None)
        with self.write() as conn:
            me = conn.execute(text(
                "SELECT current_user AS login, r.rolsuper, r.rolcreaterole, current_schema() AS s,"
                " pg_has_role(current_user, c.relowner, 'USAGE') AS owns"
                " FROM pg_roles r, pg_class c"
                " WHERE r.rolname = current_user AND c.oid = to_regclass('customer')"
            )).one()
            if not (me.rolsuper or me.owns):
                self._note(f"The PostgreSQL roles and row-level security were left as they are: "
                           f"only the owner of the tables or a superuser can set them up, not "
                           f"{me.login}.")
                return
            quote = conn.dialect.identifier_preparer.quote_identifier
            schema = quote(me.s)
            self._ensure_group(conn, me)
            group = quote(GROUP_ROLE)
            statements = [
                f"GRANT USAGE ON SCHEMA {schema} TO {group}",
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {group}",
                f"REVOKE UPDATE, DELETE ON {', '.join(f'{schema}.{t}' for t in APPEND_ONLY_TABLES)}"
                f" FROM {group}",
                f"REVOKE INSERT, UPDATE, DELETE ON {schema}.alembic_version FROM {group}",
                f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {group}",
                f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {group}",
                f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
                f"GRANT USAGE, SELECT ON SEQUENCES TO {group}",
                *_helper_functions(schema),
                *_definer_functions(schema, me.s),
            ]
            for signature in DEFINER_SIGNATURES:
                statements += [
                    f"REVOKE ALL ON FUNCTION {schema}.{signature} FROM PUBLIC",
                    f"GRANT EXECUTE ON FUNCTION {schema}.{signature} TO {group}",
                ]
            statements += [f"ALTER TABLE {schema}.{t} ENABLE ROW LEVEL SECURITY" for t in RLS_TABLES]
            for table, policy in conn.execute(text(
                "SELECT tablename, policyname FROM pg_policies "
                "WHERE schemaname = current_schema() AND left(policyname, 4) = 'crm_'"
            )).all():
                statements.append(f"DROP POLICY {quote(policy)} ON {schema}.{quote(table)}")
            statements += _policies(schema)
            for statement in statements:
                conn.exec_driver_sql(statement)
            for (login,) in conn.execute(text("SELECT login FROM rep WHERE active ORDER BY id")):
                self._provision_login(conn, login)

    def _ensure_group(self, conn: Connection, me: Any) -> None:
        exists = conn.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :g"), {"g": GROUP_ROLE}
        ).first()
        if exists:
            return
        if not (me.rolsuper or me.rolcreaterole):
            raise PermissionDenied(
                f"crm init cannot create the PostgreSQL role {GROUP_ROLE}: {me.login} lacks "
                f"CREATEROLE; ask a superuser to run `CREATE ROLE {GROUP_ROLE} NOLOGIN`, then run "
                "`crm init` again."
            )
        try:
            with conn.begin_nested():
                conn.exec_driver_sql(f"CREATE ROLE {GROUP_ROLE} NOLOGIN")
        except DBAPIError:
            # Another crm init created it at the same moment (roles are cluster-wide).
            if not conn.execute(
                text("SELECT 1 FROM pg_roles WHERE rolname = :g"), {"g": GROUP_ROLE}
            ).first():
                raise

    # --- crm reps add -------------------------------------------------------------------------

    def _after_rep_added(self, conn: Connection, login: str) -> None:
        super()._after_rep_added(conn, login)  # type: ignore[misc]  # RepOps's hook, after this mixin in Store's MRO
        if not self.is_sqlite:
            self._provision_login(conn, login)

    def _provision_login(self, conn: Connection, login: str) -> None:
        """Make ``login`` a PostgreSQL login role in ``crm_users``, where the caller may.

        Never fails the surrounding change: what could not be done becomes a note saying what a
        database administrator should run instead.
        """
        state = conn.execute(text(
            "SELECT current_user AS me, r.rolsuper, r.rolcreaterole,"
            " EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :group) AS has_group,"
            " EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :login) AS has_login"
            " FROM pg_roles r WHERE r.rolname = current_user"
        ), {"group": GROUP_ROLE, "login": login}).one()
        if not state.has_group:
            return  # before the first after_init; it provisions every rep when it runs
        quoted = conn.dialect.identifier_preparer.quote_identifier(login)
        if not state.has_login:
            if not (state.rolsuper or state.rolcreaterole):
                self._note(
                    f"The PostgreSQL role {login} does not exist and {state.me} may not create "
                    f"it: a database administrator can run `CREATE ROLE {quoted} LOGIN IN ROLE "
                    f"{GROUP_ROLE}`."
                )
                return
            statement = f"CREATE ROLE {quoted} LOGIN IN ROLE {GROUP_ROLE}"
        else:
            member = conn.execute(
                text("SELECT pg_has_role(:login, :group, 'MEMBER')"),
                {"login": login, "group": GROUP_ROLE},
            ).scalar()
            if member:
                return
            statement = f"GRANT {GROUP_ROLE} TO {quoted}"
        try:
            with conn.begin_nested():
                conn.exec_driver_sql(statement)
        except DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            self._note(f"Could not run `{statement}` ({reason}); a database administrator can.")
