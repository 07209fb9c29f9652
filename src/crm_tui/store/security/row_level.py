"""Who may see what inside PostgreSQL: the ``crm_users`` role, grants and row-level security.

DESIGN §5. The store applies one visibility rule to every read (``StoreBase.visible``); on
PostgreSQL the same rule is also written into the database as row-level security policies, so a
rep who connects with ``psql`` sees what the app would show and no more:

- a rep sees their own private sea and the open sea; a manager also the private seas of their
  team; an admin everything; a role that is not an active rep of this database sees nothing;
- contacts, follow-ups, deals and tags of a customer are visible when the customer is; history
  (``ownership_event``, ``audit_event``) when its customer is, or when the rep took part in it;
- a rep writes only rows they may see, before and after the change: claim (pool to self) and
  release (own to pool) pass, taking or giving away another rep's customer does not; what a
  rep may write, and how history stays append-only and names its writer, is ``policies.py``;
- reps are added and changed by admins only; company rules (settings) too.

The rep is ``current_user``: the role the connection logged in as (peer or password
authentication identifies it), the same identity ``config.acting_login`` uses.

Policies apply to members of ``crm_users``. The role that ran ``crm init`` owns the tables and,
like a superuser, is not subject to them (it is the first admin, who sees everything anyway);
row-level security is not FORCEd so the SECURITY DEFINER functions below, owned by it, can read
across it. Those functions are the only ways past the policies: ``crm_customer_owner(id)`` for
"already claimed by X" and ``crm_duplicate_owners(...)`` for the duplicate check's "already
exists, owned by X" say only who owns a customer; ``crm_search_ids`` only ids the caller may
see; ``crm_merge(keep, others)`` is ``crm merge`` (moving history, deleting OTHER), run only
for a caller who may merge every customer named (``merge_function``).

The open-sea rules (caps, daily limits, cooldowns) stay the app's to enforce: a rep with
``psql`` could claim open-sea customers past them, but never see or take another rep's.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from crm_tui.store.customers.duplicates import DUPLICATE_OWNERS_PARAMETERS, duplicate_owners_body
from crm_tui.store.customers.merge import MERGE_LIMIT, merge_moves
from crm_tui.store.db.base import StoreBase
from crm_tui.store.errors import PermissionDenied
from crm_tui.store.security.policies import (
    GROUP_ROLE,
    RLS_TABLES,
    TABLE_GRANTS,
    customer_guard,
    policies,
    table_grants,
)

__all__ = ["GROUP_ROLE", "RLS_TABLES", "TABLE_GRANTS", "SecurityOps", "install_security",
           "install_security_if_changed"]

SECURITY_MARK = "crm-tui security "
"""The comment on ``crm_rep_id()`` that says which version of all this a database holds."""


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


_DEFINER = "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp"


def _is_rep(s: str) -> str:
    # Inside a SECURITY DEFINER function current_user is the owner: the caller is session_user.
    return f"EXISTS (SELECT 1 FROM {s}.rep me WHERE me.login = session_user AND me.active)"


def duplicate_owners_function(s: str, schema_name: str) -> list[str]:
    """``crm_duplicate_owners``: the duplicate check's own SELECT (customers/duplicates.py)
    with the rep guard added. Dropped first, since ``CREATE OR REPLACE`` cannot rename its
    parameters or change the columns it returns; ``after_init`` and the migration that changed
    the rule (0002) both install it from here, with ``duplicate_owners_grants``.
    """
    return [
        f"DROP FUNCTION IF EXISTS {s}.crm_duplicate_owners(text, text, text, integer)",
        f"CREATE FUNCTION {s}.crm_duplicate_owners("
        f"p_match_key text, p_phone text, p_email text, p_exclude_id integer) "
        f"RETURNS TABLE(id integer, owner_id integer, phone text, email text, match_key text, "
        f"login text, name text) {_DEFINER} "
        f"AS $$ {duplicate_owners_body(schema_name, _is_rep(s))} $$",
    ]


def duplicate_owners_grants(s: str) -> list[str]:
    """Only ``crm_users`` may call ``crm_duplicate_owners``."""
    return _grants(s, "crm_duplicate_owners(text, text, text, integer)")


def reinstall_duplicate_owners(conn: Connection) -> bool:
    """Install this version's ``crm_duplicate_owners`` where an earlier ``crm init`` installed
    one (a migration's step: the rule it carries changed). False where there is none yet (SQLite,
    or PostgreSQL before ``after_init``), which installs it when it runs."""
    if conn.dialect.name != "postgresql":
        return False
    schema_name = conn.execute(text(
        "SELECT current_schema() FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE p.proname = 'crm_duplicate_owners' AND n.nspname = current_schema()"
    )).scalar()
    if schema_name is None:
        return False
    s = conn.dialect.identifier_preparer.quote_identifier(schema_name)
    statements = duplicate_owners_function(s, schema_name)
    if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :g"), {"g": GROUP_ROLE}).first():
        statements += duplicate_owners_grants(s)
    for statement in statements:
        conn.exec_driver_sql(statement)
    return True


def _grants(s: str, signature: str) -> list[str]:
    group = f'"{GROUP_ROLE}"'
    return [f"REVOKE ALL ON FUNCTION {s}.{signature} FROM PUBLIC",
            f"GRANT EXECUTE ON FUNCTION {s}.{signature} TO {group}"]


def _claim_race_seconds() -> int:
    from crm_tui.store.sea.claim import CLAIM_RACE_WINDOW

    return int(CLAIM_RACE_WINDOW.total_seconds())


def _definer_functions(s: str, schema_name: str) -> list[str]:
    """The ways past the policies; each names owners (or ids) and nothing else of a customer.

    ``s`` is the schema quoted for SQL text, ``schema_name`` the schema as it is named.
    """
    common = _DEFINER
    return [
        # The owner is named only where the caller may know it (issue 14 item 2): a customer
        # they see (open sea, their own, their team's, any for an admin), or one that left the
        # open sea within the claim-race window, so a lost race names the winner. The window
        # counts from the server's clock: a caller-supplied "now" would open it for any event.
        f"CREATE OR REPLACE FUNCTION {s}.crm_customer_owner(p_customer_id integer) "
        f"RETURNS TABLE(owner_id integer, owner_login text, owner_name text) {common} "
        f"AS $$ SELECT c.owner_id, r.login::text, r.name::text FROM {s}.customer c "
        f"LEFT JOIN {s}.rep r ON r.id = c.owner_id, {s}.rep me "
        f"WHERE c.id = p_customer_id AND me.login = session_user AND me.active "
        f"AND (c.owner_id IS NULL OR c.owner_id = me.id OR me.role = 'admin' "
        f"OR (me.role = 'manager' AND me.team IS NOT NULL AND r.team = me.team) "
        f"OR EXISTS (SELECT 1 FROM {s}.ownership_event e WHERE e.customer_id = c.id "
        f"AND e.from_rep_id IS NULL AND e.to_rep_id IS NOT NULL AND e.kind <> 'created' "
        f"AND e.at >= now() - interval '{_claim_race_seconds()} seconds')) $$",
        *duplicate_owners_function(s, schema_name),
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
        merge_function(s),
    ]


def merge_function(s: str) -> str:
    """``crm_merge(keep, others, at)``: ``crm merge`` for a rep's own role, which may neither
    move history nor delete a customer. It locks the customers in id order, refuses (42501)
    unless the caller may merge every one of them (the store's rule, ``MergeOps._may_merge``:
    the owner of all, a manager of their team's owners or of the open sea, or an admin), then
    runs the store's own statements (``merge_moves``) and returns what it moved, counted.
    ``merged_by_id`` is always the caller; ``at`` (the app's clock) defaults to now."""
    names = {"keep": "p_keep", "others": "(SELECT unnest(v_others))", "actor": "v_me.id",
             "at": "coalesce(p_at, now())"}
    steps = []
    for counted, sql in merge_moves(f"{s}."):
        body = re.sub(r":(\w+)", lambda m: names[m.group(1)], sql)
        steps.append(f"  {body};")
        if counted:
            steps.append(f"  GET DIAGNOSTICS v_n = ROW_COUNT; "
                         f"v_moved := v_moved || jsonb_build_object('{counted}', v_n);")
    refuse = "RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = "
    body = "\n".join(steps)
    return (
        f"CREATE OR REPLACE FUNCTION {s}.crm_merge(p_keep integer, p_others integer[], "
        f"p_at timestamptz DEFAULT NULL) RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER "
        f"SET search_path = pg_catalog, pg_temp AS $$\n"
        f"DECLARE\n"
        f"  v_me record;\n  v_others integer[];\n  v_ids integer[];\n"
        f"  v_n bigint;\n  v_moved jsonb := '{{}}'::jsonb;\n"
        f"BEGIN\n"
        # Inside a SECURITY DEFINER function current_user is the owner: the caller is session_user.
        f"  SELECT me.id, me.role, me.team INTO v_me FROM {s}.rep me "
        f"WHERE me.login = session_user AND me.active;\n"
        f"  IF NOT FOUND THEN {refuse}'only an active rep may merge customers'; END IF;\n"
        f"  v_others := ARRAY(SELECT DISTINCT x FROM unnest(p_others) x WHERE x IS NOT NULL);\n"
        f"  IF p_keep IS NULL OR cardinality(v_others) = 0 OR p_keep = ANY (v_others) "
        f"OR cardinality(v_others) > {MERGE_LIMIT} THEN\n"
        f"    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', MESSAGE = "
        f"'merge 1 to {MERGE_LIMIT} other customers into one that is not among them';\n"
        f"  END IF;\n"
        f"  v_ids := ARRAY(SELECT x FROM unnest(v_others || p_keep) x ORDER BY x);\n"
        f"  PERFORM c.id FROM {s}.customer c WHERE c.id = ANY (v_ids) ORDER BY c.id FOR UPDATE;\n"
        f"  IF (SELECT count(*) FROM {s}.customer c WHERE c.id = ANY (v_ids) AND ("
        f"v_me.role = 'admin' OR c.owner_id = v_me.id "
        f"OR (c.owner_id IS NULL AND v_me.role = 'manager') "
        f"OR (v_me.role = 'manager' AND v_me.team IS NOT NULL AND c.owner_id IN "
        f"(SELECT r.id FROM {s}.rep r WHERE r.team = v_me.team)))) <> cardinality(v_ids) THEN\n"
        f"    {refuse}'only the owner of every customer merged, a manager of their owners "
        f"or an admin may merge them';\n"
        f"  END IF;\n"
        f"{body}\n"
        f"  RETURN v_moved;\n"
        f"END $$"
    )


DEFINER_SIGNATURES = (
    "crm_customer_owner(integer)",
    "crm_duplicate_owners(text, text, text, integer)",
    "crm_search_ids(text)",
    "crm_merge(integer, integer[], timestamptz)",
)


class SecurityOps(StoreBase):
    """PostgreSQL roles, grants and row-level security; a no-op on SQLite (see the README)."""

    # Notes for the person running the command (``security_notes``, ``_note``): team/identity.py.

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
        self, conn: Connection, match: str | None, phone: str | None, email: str | None,
        exclude_id: int | None,
    ) -> Sequence[Any]:
        if not self.rls_applies(conn):
            return super().duplicate_candidates(conn, match, phone, email, exclude_id)
        arguments = ", ".join(f":{name}" for name in DUPLICATE_OWNERS_PARAMETERS)
        return conn.execute(
            text("SELECT id, owner_id, phone, email, match_key, login, name "
                 f"FROM crm_duplicate_owners({arguments})"),
            dict(zip(DUPLICATE_OWNERS_PARAMETERS,
                     (match or None, phone or None, email or None, exclude_id), strict=True)),
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

        Idempotent: run by every ``crm init`` (``crm db upgrade`` runs it too when this version
        of crm brings other rules, ``install_security_if_changed``). Only the owner of the
        tables (who ran the first ``crm init``) or a superuser can do it; anyone else's
        ``crm init`` leaves it as it is.
        """
        super().after_init()
        if self.is_sqlite:
            return
        self.__dict__.pop("_rls_applies", None)
        with self.write() as conn:
            install_security(conn, self._note)

    # --- crm reps add -------------------------------------------------------------------------

    def _after_rep_added(self, conn: Connection, login: str) -> None:
        super()._after_rep_added(conn, login)  # type: ignore[misc]  # RepOps's hook, after this mixin in Store's MRO
        if not self.is_sqlite:
            _provision_login(conn, login, self._note)


Note = Callable[[str], None]


def _statements(conn: Connection, schema_name: str) -> list[str]:
    """Everything ``install_security`` runs but the policies it drops first, in order."""
    quote = conn.dialect.identifier_preparer.quote_identifier
    schema, group = quote(schema_name), quote(GROUP_ROLE)
    existing = set(conn.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    ).scalars())
    statements = [
        f"GRANT USAGE ON SCHEMA {schema} TO {group}",
        *table_grants(schema, group, existing),
        *_helper_functions(schema),
        *_definer_functions(schema, schema_name),
    ]
    for signature in DEFINER_SIGNATURES:
        statements += [
            f"REVOKE ALL ON FUNCTION {schema}.{signature} FROM PUBLIC",
            f"GRANT EXECUTE ON FUNCTION {schema}.{signature} TO {group}",
        ]
    statements += customer_guard(schema)
    statements += [f"ALTER TABLE {schema}.{t} ENABLE ROW LEVEL SECURITY"
                   for t in RLS_TABLES if t in existing]
    statements += policies(schema, existing)
    return statements


def _mark(statements: list[str]) -> str:
    return SECURITY_MARK + hashlib.sha256("\n".join(statements).encode()).hexdigest()[:16]


def install_security(conn: Connection, note: Note) -> bool:
    """Create ``crm_users`` and install its grants, functions, guard and policies; provision a
    login role for every active rep. False (with a note) when the caller may not."""
    me = conn.execute(text(
        "SELECT current_user AS login, r.rolsuper, r.rolcreaterole, current_schema() AS s,"
        " pg_has_role(current_user, c.relowner, 'USAGE') AS owns"
        " FROM pg_roles r, pg_class c"
        " WHERE r.rolname = current_user AND c.oid = to_regclass('customer')"
    )).one()
    if not (me.rolsuper or me.owns):
        note(f"The PostgreSQL roles and row-level security were left as they are: only the "
             f"owner of the tables or a superuser can set them up, not {me.login}.")
        return False
    _ensure_group(conn, me)
    quote = conn.dialect.identifier_preparer.quote_identifier
    schema = quote(me.s)
    statements = _statements(conn, me.s)
    drops = [
        f"DROP POLICY {quote(policy)} ON {schema}.{quote(table)}"
        for table, policy in conn.execute(text(
            "SELECT tablename, policyname FROM pg_policies "
            "WHERE schemaname = current_schema() AND left(policyname, 4) = 'crm_'"
        )).all()
    ]
    for statement in [*drops, *statements]:
        conn.exec_driver_sql(statement)
    mark = _mark(statements).replace("'", "''")
    conn.exec_driver_sql(f"COMMENT ON FUNCTION {schema}.crm_rep_id() IS '{mark}'")
    for (login,) in conn.execute(text("SELECT login FROM rep WHERE active ORDER BY id")):
        _provision_login(conn, login, note)
    return True


def install_security_if_changed(conn: Connection) -> bool:
    """``crm db upgrade``'s step: install this version's security where ``crm init`` installed
    an older one (its mark differs). Nothing where it never ran (it will) or on SQLite, and
    nothing, silently, for a caller who does not own the tables. True when it installed."""
    if conn.dialect.name != "postgresql":
        return False
    row = conn.execute(text(
        "SELECT current_schema() AS s, obj_description(to_regprocedure('crm_rep_id()'), "
        "'pg_proc') AS mark, EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :g) AS has_group"
    ), {"g": GROUP_ROLE}).one()
    if not row.has_group or _no_tables(conn):
        return False
    if row.mark == _mark(_statements(conn, row.s)):
        return False
    return install_security(conn, lambda _message: None)


def _no_tables(conn: Connection) -> bool:
    """Whether this schema has no ``customer`` table yet (nothing to secure)."""
    return conn.execute(text("SELECT to_regclass('customer') IS NULL")).scalar() is True


def _ensure_group(conn: Connection, me: Any) -> None:
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


def _provision_login(conn: Connection, login: str, note: Note) -> None:
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
            note(
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
        note(f"Could not run `{statement}` ({reason}); a database administrator can.")
