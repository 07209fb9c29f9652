"""What a rep's own PostgreSQL role may write: grants, write policies and the customer guard.

DESIGN §5, issue 22. Reads are filtered by the visibility rule (``row_level.py``); writes obey
the same rule and more, so a rep at a ``psql`` prompt can do no more than the app lets them:

- **Grants are per table and fail closed** (``TABLE_GRANTS``): a table not named there gets no
  privilege at all, so a table added later is invisible to reps until it is given its rule here
  (``tests/test_pg_writes.py`` checks every table has one). Nobody in ``crm_users`` deletes a
  customer, contact, deal, follow-up, tag, rep or event: the app never does, and a rep who may
  not delete a row cannot delete it by cascade either (the foreign keys' ``ON DELETE CASCADE``
  runs only for the table owner). ``customer_tag`` rows are the one thing the app deletes;
  ``crm merge``, which moves history and deletes the merged customers, runs through the
  SECURITY DEFINER function ``crm_merge`` (``row_level.py``), which checks its caller.
- **History names its writer and only grows.** ``ownership_event``, ``audit_event`` and
  ``follow_up`` take ``INSERT`` only; each row must name the writer (``actor_id``/``rep_id`` is
  the rep; an admin, who may act ``--as`` a rep, may name anyone), concern a customer the writer
  may see, and name as the other party only reps whose private seas the writer sees (a manager's
  team). The one row without an actor is a rule's recycle of the writer's own customer (the app
  recycles at start, as the system), and its audit row may name only such a rep as the owner.
  So nobody can raise a colleague's claim count, cool-down or follow-up figures.
- **Every write policy checks what the read policy checks**, ``WITH CHECK`` too, and where the
  app is stricter so is the policy: follow-ups and deals only on customers in a private sea
  the writer manages; a deal only while its owner is the writer's (or nobody's: an open deal
  of an open-sea customer, which moves to whoever claims it); contacts and tags of an open-sea
  customer are changed only by managers (anyone may add them, as an import to the open sea does).
- **A change to a customer names only its writer** (``crm_customer_guard``): ``updated_by_id``
  and ``released_by_id`` may be set only to the writer or a rep of their team — a trigger,
  because a policy cannot tell a column being set from one left as it was.
- Tags are global names: anyone may read them and add one, nobody in ``crm_users`` renames or
  deletes one.

Text a terminal prints has no control characters, whoever writes it: the CHECK constraints of
migration 0004 (``schema/migrations/versions``). Locks a hostile session holds cannot freeze
the app either: its sessions carry a lock and a statement timeout (``db/engine.py``).
"""

from __future__ import annotations

import re

GROUP_ROLE = "crm_users"

TABLE_GRANTS: dict[str, str] = {
    "rep": "SELECT, INSERT, UPDATE",  # INSERT/UPDATE: admins only (policies); UPDATE also locks
    "setting": "SELECT, INSERT, UPDATE, DELETE",  # rules: admins; state.*: the app's
    "customer": "SELECT, INSERT, UPDATE",
    "contact": "SELECT, INSERT, UPDATE",
    "follow_up": "SELECT, INSERT",
    "deal": "SELECT, INSERT, UPDATE",
    "tag": "SELECT, INSERT",
    "customer_tag": "SELECT, INSERT, DELETE",
    "ownership_event": "SELECT, INSERT",
    "audit_event": "SELECT, INSERT",
    "merged_customer": "SELECT, INSERT",  # history too: a merge is recorded, never undone
    "alembic_version": "SELECT",
}
"""The privileges of ``crm_users`` on each table; a table not named here gets none."""

RLS_TABLES = ("customer", "contact", "follow_up", "deal", "tag", "customer_tag",
              "ownership_event", "audit_event", "rep", "setting", "merged_customer")
"""Tables under row-level security: every table reps may write, and every table with secrets."""

GUARD_TRIGGERS = ("crm_customer_guard_insert", "crm_customer_guard_update")


def table_grants(s: str, group: str, existing: set[str]) -> list[str]:
    """Revoke what ``crm_users`` holds on every table, then grant ``TABLE_GRANTS``."""
    statements = [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {group}",
        # Tables made later get nothing until this module names them (fail closed).
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} REVOKE ALL ON TABLES FROM {group}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {group}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT USAGE, SELECT ON SEQUENCES TO {group}",
    ]
    statements += [f"GRANT {privileges} ON {s}.{table} TO {group}"
                   for table, privileges in TABLE_GRANTS.items() if table in existing]
    return statements


def customer_guard(s: str) -> list[str]:
    """The trigger that keeps a customer's ``updated_by_id`` and ``released_by_id`` naming the
    writer (or a rep of their team; anyone for an admin). It acts only where row-level
    security does (the table owner, who runs migrations and the demo loader, is not held), and
    only when one of the two columns changes, so a claim pays one cheap check."""
    owners = f"coalesce({s}.crm_visible_owner_ids(), '{{}}'::integer[])"
    refuse = ("RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', "
              "MESSAGE = 'a change to a customer may name only its writer (' || column_name || ')'")
    return [
        f"CREATE OR REPLACE FUNCTION {s}.crm_customer_guard() RETURNS trigger "
        f"LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$\n"
        f"DECLARE column_name text;\n"
        f"BEGIN\n"
        f"  IF NOT row_security_active(TG_RELID) OR {s}.crm_is_admin() THEN RETURN NEW; END IF;\n"
        f"  IF NEW.updated_by_id IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.updated_by_id IS "
        f"DISTINCT FROM OLD.updated_by_id) AND NOT NEW.updated_by_id = ANY ({owners}) THEN\n"
        f"    column_name := 'updated_by_id'; {refuse};\n"
        f"  END IF;\n"
        f"  IF NEW.released_by_id IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.released_by_id IS "
        f"DISTINCT FROM OLD.released_by_id) AND NOT NEW.released_by_id = ANY ({owners}) THEN\n"
        f"    column_name := 'released_by_id'; {refuse};\n"
        f"  END IF;\n"
        f"  RETURN NEW;\n"
        f"END $$",
        f"DROP TRIGGER IF EXISTS crm_customer_guard_insert ON {s}.customer",
        f"DROP TRIGGER IF EXISTS crm_customer_guard_update ON {s}.customer",
        f"CREATE TRIGGER crm_customer_guard_insert BEFORE INSERT ON {s}.customer "
        f"FOR EACH ROW WHEN (NEW.updated_by_id IS NOT NULL OR NEW.released_by_id IS NOT NULL) "
        f"EXECUTE FUNCTION {s}.crm_customer_guard()",
        f"CREATE TRIGGER crm_customer_guard_update BEFORE UPDATE ON {s}.customer "
        f"FOR EACH ROW WHEN (NEW.updated_by_id IS DISTINCT FROM OLD.updated_by_id "
        f"OR NEW.released_by_id IS DISTINCT FROM OLD.released_by_id) "
        f"EXECUTE FUNCTION {s}.crm_customer_guard()",
    ]


def policies(s: str, existing: set[str]) -> list[str]:
    """``CREATE POLICY`` statements for the ``existing`` tables; every name starts with ``crm_``
    (they are replaced whole)."""
    on_table = re.compile(rf" ON {re.escape(s)}\.(\w+) FOR ")
    return [statement for statement in _policies(s)
            if (match := on_table.search(statement)) and match.group(1) in existing]


def _policies(s: str) -> list[str]:
    me = f"(SELECT {s}.crm_rep_id())"
    admin = f"(SELECT {s}.crm_is_admin())"
    manager = f"(SELECT {s}.crm_is_manager())"
    owners = f"(SELECT {s}.crm_visible_owner_ids())::integer[]"

    def sees_owner(column: str) -> str:
        """The read rule on an owner column: the open sea, one's own (team's) or an admin."""
        return f"({me} IS NOT NULL AND ({column} IS NULL OR {admin} OR {column} = ANY ({owners})))"

    def may_name(column: str) -> str:
        """A history row's other party: nobody, or a rep whose private sea the writer sees."""
        return f"({column} IS NULL OR {column} = ANY ({owners}))"

    def customer_where(table: str, column: str, condition: str = "true") -> str:
        # The subquery is itself filtered by customer's policies: true only if the customer is
        # visible, and then only if ``condition`` holds for it.
        return (f"EXISTS (SELECT 1 FROM {s}.customer c WHERE c.id = {table}.{column} "
                f"AND {condition})")

    def sees_customer(table: str, column: str = "customer_id") -> str:
        return customer_where(table, column)

    def manages_customer(table: str, column: str = "customer_id") -> str:
        """A customer in a private sea the writer manages (the app's rule for follow-ups and
        deals): visible and owned."""
        return customer_where(table, column, "c.owner_id IS NOT NULL")

    def edits_customer(table: str, column: str = "customer_id") -> str:
        """The app's rule for editing a customer: owned and visible; the open sea: managers."""
        return customer_where(table, column, f"(c.owner_id IS NOT NULL OR {manager})")

    to = f"TO {GROUP_ROLE}"
    visible = sees_owner("owner_id")
    out = [
        f"CREATE POLICY crm_customer_read ON {s}.customer FOR SELECT {to} USING {visible}",
        f"CREATE POLICY crm_customer_add ON {s}.customer FOR INSERT {to} WITH CHECK {visible}",
        f"CREATE POLICY crm_customer_change ON {s}.customer FOR UPDATE {to} "
        f"USING {visible} WITH CHECK {visible}",
    ]
    out += [
        f"CREATE POLICY crm_contact_read ON {s}.contact FOR SELECT {to} "
        f"USING ({sees_customer('contact')})",
        f"CREATE POLICY crm_contact_add ON {s}.contact FOR INSERT {to} "
        f"WITH CHECK ({sees_customer('contact')})",
        f"CREATE POLICY crm_contact_change ON {s}.contact FOR UPDATE {to} "
        f"USING ({edits_customer('contact')}) WITH CHECK ({edits_customer('contact')})",
    ]
    out += [
        f"CREATE POLICY crm_customer_tag_read ON {s}.customer_tag FOR SELECT {to} "
        f"USING ({sees_customer('customer_tag')})",
        f"CREATE POLICY crm_customer_tag_add ON {s}.customer_tag FOR INSERT {to} "
        f"WITH CHECK ({sees_customer('customer_tag')})",
        f"CREATE POLICY crm_customer_tag_remove ON {s}.customer_tag FOR DELETE {to} "
        f"USING ({edits_customer('customer_tag')})",
    ]
    out += [
        f"CREATE POLICY crm_tag_read ON {s}.tag FOR SELECT {to} USING (true)",
        f"CREATE POLICY crm_tag_add ON {s}.tag FOR INSERT {to} WITH CHECK ({me} IS NOT NULL)",
    ]
    out += [
        f"CREATE POLICY crm_follow_up_read ON {s}.follow_up FOR SELECT {to} "
        f"USING ({sees_customer('follow_up')})",
        f"CREATE POLICY crm_follow_up_add ON {s}.follow_up FOR INSERT {to} "
        f"WITH CHECK ({admin} OR (follow_up.rep_id = {me} AND {manages_customer('follow_up')}))",
    ]
    deal_owned = sees_owner("deal.owner_id")
    out += [
        f"CREATE POLICY crm_deal_read ON {s}.deal FOR SELECT {to} "
        f"USING ({sees_customer('deal')})",
        f"CREATE POLICY crm_deal_add ON {s}.deal FOR INSERT {to} "
        f"WITH CHECK ({manages_customer('deal')} AND {deal_owned})",
        f"CREATE POLICY crm_deal_change ON {s}.deal FOR UPDATE {to} "
        f"USING ({sees_customer('deal')} AND {deal_owned}) "
        f"WITH CHECK ({sees_customer('deal')} AND {deal_owned})",
    ]
    out += [
        f"CREATE POLICY crm_merged_customer_read ON {s}.merged_customer FOR SELECT {to} "
        f"USING ({sees_customer('merged_customer', 'merged_into')})",
        f"CREATE POLICY crm_merged_customer_add ON {s}.merged_customer FOR INSERT {to} "
        f"WITH CHECK ({admin} OR (merged_customer.merged_by_id = {me} "
        f"AND {edits_customer('merged_customer', 'merged_into')}))",
    ]
    took_part = (f"{me} IN (ownership_event.actor_id, ownership_event.from_rep_id, "
                 f"ownership_event.to_rep_id)")
    ownership_add = (
        f"{admin} OR ({me} IS NOT NULL "
        f"AND (ownership_event.actor_id = {me} "
        f"OR (ownership_event.actor_id IS NULL AND ownership_event.kind = 'recycled')) "
        f"AND {may_name('ownership_event.from_rep_id')} "
        f"AND {may_name('ownership_event.to_rep_id')} "
        f"AND {sees_customer('ownership_event')})"
    )
    out += [
        f"CREATE POLICY crm_ownership_event_read ON {s}.ownership_event FOR SELECT {to} "
        f"USING ({sees_customer('ownership_event')} OR {took_part})",
        f"CREATE POLICY crm_ownership_event_add ON {s}.ownership_event FOR INSERT {to} "
        f"WITH CHECK ({ownership_add})",
    ]
    entity = "audit_event.entity_id"

    def entity_exists(table: str) -> str:
        return f"EXISTS (SELECT 1 FROM {s}.{table} x WHERE x.id = {entity})"

    audit_visible = (
        f"audit_event.actor_id = {me} "
        f"OR (audit_event.entity = 'customer' AND {entity_exists('customer')}) "
        f"OR (audit_event.entity = 'contact' AND {entity_exists('contact')}) "
        f"OR (audit_event.entity = 'deal' AND {entity_exists('deal')}) "
        f"OR (audit_event.entity = 'follow_up' AND {entity_exists('follow_up')}) "
        f"OR ({me} IS NOT NULL AND audit_event.entity NOT IN "
        f"('customer', 'contact', 'deal', 'follow_up'))"
    )
    # What the row is about must be the writer's to see (rules and reps: an admin's).
    audit_subject = (
        f"CASE audit_event.entity "
        f"WHEN 'customer' THEN {entity_exists('customer')} "
        f"WHEN 'contact' THEN {entity_exists('contact')} "
        f"WHEN 'deal' THEN {entity_exists('deal')} "
        f"WHEN 'follow_up' THEN {entity_exists('follow_up')} "
        f"WHEN 'setting' THEN {admin} "
        f"WHEN 'rep' THEN false "
        f"ELSE true END"
    )
    # A rule's recycle, run by the app of a rep whose customer it was: no actor, and the owner
    # it names (``old``) is one whose private sea the writer sees.
    system_recycle = (
        f"(audit_event.actor_id IS NULL AND audit_event.entity = 'customer' "
        f"AND audit_event.action = 'recycle' AND audit_event.new IS NULL "
        f"AND (audit_event.old IS NULL OR audit_event.old IN "
        f"(SELECT r.login FROM {s}.rep r WHERE r.id = ANY ({owners}))))"
    )
    out += [
        f"CREATE POLICY crm_audit_event_read ON {s}.audit_event FOR SELECT {to} "
        f"USING ({audit_visible})",
        f"CREATE POLICY crm_audit_event_add ON {s}.audit_event FOR INSERT {to} "
        f"WITH CHECK ({admin} OR ({me} IS NOT NULL "
        f"AND (audit_event.actor_id = {me} OR {system_recycle}) AND {audit_subject}))",
    ]
    # Rep logins are not secret. Changing reps is an admin's; the UPDATE policy's USING also
    # admits the rows a rep may lock (SELECT ... FOR UPDATE serialises their own claims).
    out += [
        f"CREATE POLICY crm_rep_read ON {s}.rep FOR SELECT {to} USING (true)",
        f"CREATE POLICY crm_rep_add ON {s}.rep FOR INSERT {to} WITH CHECK ({admin})",
        f"CREATE POLICY crm_rep_change ON {s}.rep FOR UPDATE {to} "
        f"USING ({admin} OR rep.id = ANY ({owners})) WITH CHECK ({admin})",
    ]
    # Company rules are an admin's (``team/settings.py``, ``may_change_rules``); the app's own
    # bookkeeping (``state.*``: the last recycle time, the tier tokens) is written for any rep.
    setting_write = f"({me} IS NOT NULL AND (left(setting.key, 6) = 'state.' OR {admin}))"
    out += [
        f"CREATE POLICY crm_setting_read ON {s}.setting FOR SELECT {to} USING (true)",
        f"CREATE POLICY crm_setting_add ON {s}.setting FOR INSERT {to} WITH CHECK {setting_write}",
        f"CREATE POLICY crm_setting_change ON {s}.setting FOR UPDATE {to} "
        f"USING {setting_write} WITH CHECK {setting_write}",
        f"CREATE POLICY crm_setting_remove ON {s}.setting FOR DELETE {to} USING {setting_write}",
    ]
    return out
