"""Writing a batch's decisions: the added customers (with contacts, tags, events and audit rows in
a few set-wise statements) and the merges. Always inside the batch's one write transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Integer, func, insert, literal, null, select, update

from crm_tui.store import validate
from crm_tui.store.customers.duplicates import match_key
from crm_tui.store.files.importing.matching import Target, one_of
from crm_tui.store.files.importing.merging import Merge
from crm_tui.store.files.importing.report import ImportReport
from crm_tui.store.files.importing.rows import row_search_text
from crm_tui.store.records import Actor
from crm_tui.store.schema.tables import audit_event as audit_t
from crm_tui.store.schema.tables import contact as contact_t
from crm_tui.store.schema.tables import customer as customer_t
from crm_tui.store.schema.tables import customer_tag as customer_tag_t
from crm_tui.store.schema.tables import ownership_event as ownership_t
from crm_tui.store.schema.tables import tag as tag_t
from crm_tui.store.search import index_ddl as search_sql
from crm_tui.store.search.sort_key import name_sort_key

if TYPE_CHECKING:
    from crm_tui.store.store import Store

_FTS_INSERT_TRIGGER = "customer_fts_ai"


class Writer:
    """Writes an import's batches for ``actor``; remembers tag ids across batches."""

    def __init__(self, store: Store, actor: Actor, report: ImportReport, mask_label: str) -> None:
        self.store, self.actor, self.report = store, actor, report
        self.mask_label = mask_label  # the reason of the "created" ownership events
        self.tag_ids: dict[str, int] = {}

    def write_added(self, conn: Connection, added: list[Target], owner_id: int | None) -> None:
        """Insert the batch's new customers (``owner_id`` None: the open sea)."""
        if not added:
            return
        store, actor = self.store, self.actor
        now = store.clock.now()
        values = []
        for target in added:
            row = target.pending
            assert row is not None
            data = row.data
            # As CustomerOps._insert_customer builds them, with the contacts' search tokens.
            item = dict(vars(data))
            item.update(
                extra=row.extra or None,
                owner_id=owner_id,
                claimed_at=now if owner_id is not None else None,
                pool_entered_at=now if owner_id is None else None,
                locked=False,
                search_text=row.search_text or row_search_text(row),
                name_key=validate.name_key(data.name),
                sort_key=name_sort_key(data.name),
                match_key=row.match_key,
                created_at=now,
                updated_at=now,
                updated_by_id=actor.id,
                version=1,
            )
            values.append(item)
        ids = self._insert_customers(conn, values)
        contact_rows: list[dict[str, Any]] = []
        tag_rows: list[dict[str, Any]] = []
        for target, customer_id in zip(added, ids, strict=True):
            target.customer_id = customer_id
            row = target.pending
            assert row is not None
            contact_rows += [dict(customer_id=customer_id, **c) for c in row.contacts]
            tag_rows += [dict(customer_id=customer_id, tag_id=self._tag_id(conn, t))
                         for t in row.tags]
        if contact_rows:
            conn.execute(insert(contact_t), contact_rows)
        if tag_rows:
            conn.execute(insert(customer_tag_t), tag_rows)
        # The "created" ownership events and the audit events, as ``_ownership`` and ``_audit``
        # write them, in one INSERT ... SELECT each instead of a parameter set per customer.
        batch = one_of(store, customer_t.c.id, ids)
        at = literal(now, type_=ownership_t.c.at.type)
        conn.execute(insert(ownership_t).from_select(
            ["customer_id", "kind", "actor_id", "from_rep_id", "to_rep_id", "reason", "at"],
            select(customer_t.c.id, literal("created"), literal(actor.id), null(),
                   literal(owner_id, type_=Integer), literal(self.mask_label), at).where(batch),
        ))
        conn.execute(insert(audit_t).from_select(
            ["actor_id", "entity", "entity_id", "action", "at"],
            select(literal(actor.id), literal("customer"), customer_t.c.id, literal("import"),
                   literal(now, type_=audit_t.c.at.type)).where(batch),
        ))
        self.report.added_ids.extend(ids)

    def _insert_customers(self, conn: Connection, values: list[dict[str, Any]]) -> list[int]:
        """Insert the batch's customers in one statement; their ids in the order given."""
        if self.store.is_sqlite:
            # The write transaction holds SQLite's write lock (BEGIN IMMEDIATE), so the rows
            # get the next rowids in order: a plain executemany, far faster than RETURNING,
            # which SQLAlchemy sends one row at a time on SQLite when the order must hold.
            # The search index is filled by one INSERT ... SELECT instead of the per-row
            # trigger (less than half the cost); the trigger is dropped and re-created inside
            # this same transaction, so no other connection ever sees it missing.
            before = conn.execute(select(func.max(customer_t.c.id))).scalar() or 0
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {_FTS_INSERT_TRIGGER}")
            conn.execute(insert(customer_t), values)
            conn.exec_driver_sql(
                "INSERT INTO customer_fts(rowid, search_text) "
                "SELECT id, search_text FROM customer WHERE id > ?", (before,)
            )
            conn.exec_driver_sql(search_sql.FTS_TRIGGERS[_FTS_INSERT_TRIGGER])
            ids = list(conn.execute(
                select(customer_t.c.id).where(customer_t.c.id > before).order_by(customer_t.c.id)
            ).scalars())
            if len(ids) != len(values):
                raise RuntimeError("customer ids of the batch could not be read back")
            return ids
        return list(conn.execute(
            insert(customer_t).returning(customer_t.c.id, sort_by_parameter_order=True), values
        ).scalars())

    def _tag_id(self, conn: Connection, name: str) -> int:
        tag_id = self.tag_ids.get(name)
        if tag_id is None:
            tag_id = conn.execute(select(tag_t.c.id).where(tag_t.c.name == name)).scalar()
            if tag_id is None:
                tag_id = conn.execute(
                    insert(tag_t).values(name=name).returning(tag_t.c.id)
                ).scalar_one()
            self.tag_ids[name] = tag_id
        return tag_id

    def write_merges(self, conn: Connection, merges: list[Merge]) -> None:
        """Write what merging gave each customer, audited as an update."""
        store, actor = self.store, self.actor
        for merge in merges:
            customer_id = merge.target.customer_id
            assert customer_id is not None
            changes = dict(merge.changes)
            new_values: dict[str, Any] = {name: new for name, (_, new) in merge.changes.items()}
            if merge.extra:
                full = dict((merge.target.values or {}).get("extra") or {})
                old_extra = {k: v for k, v in full.items() if k not in merge.extra}
                new_values["extra"] = full
                changes["extra"] = (old_extra or None, full)
            if merge.tags:
                conn.execute(insert(customer_tag_t), [
                    dict(customer_id=customer_id, tag_id=self._tag_id(conn, tag))
                    for tag in merge.tags
                ])
                changes["tags"] = (None, ", ".join(merge.tags))
            if merge.contacts:
                conn.execute(insert(contact_t),
                             [dict(customer_id=customer_id, **c) for c in merge.contacts])
                changes["contacts"] = (None, ", ".join(c["name"] for c in merge.contacts))
            if not changes:
                continue
            if any(k in new_values for k in ("kind", "company")):
                values = merge.target.values or {}
                new_values["match_key"] = match_key(values.get("name") or "", values.get("kind"),
                                                    values.get("company"))
            if merge.contacts or any(k in new_values for k in ("company", "phone", "email")):
                new_values["search_text"] = store._search_text(
                    conn, customer_id, SearchFields(merge.target.values or {}))
            conn.execute(
                update(customer_t).where(customer_t.c.id == customer_id).values(
                    **new_values, updated_at=store.clock.now(), updated_by_id=actor.id,
                    version=customer_t.c.version + 1,
                )
            )
            store._audit(conn, actor, "customer", customer_id, "update", changes)



class SearchFields:
    """Attribute access over a dict of customer values (what ``_search_text`` reads)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.name = values.get("name") or ""
        self.company = values.get("company")
        self.phone = values.get("phone")
        self.email = values.get("email")

