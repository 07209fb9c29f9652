"""``--on-duplicate merge``: a row's values added to the customer it duplicates, never overwriting.

A merge fills empty fields and adds missing tags, contacts and ``extra`` keys; a differing
non-empty value is kept and reported as a conflict. The target is a database customer (its
values loaded when first merged into) or a row of this file about to be added.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from crm_tui.store import validate
from crm_tui.store.customers.duplicates import match_key
from crm_tui.store.files.importing.columns import CUSTOMER_FIELDS
from crm_tui.store.files.importing.matching import KeyIndex, Target
from crm_tui.store.files.importing.report import PROBLEM_LIMIT, ImportReport
from crm_tui.store.files.importing.rows import PreparedRow
from crm_tui.store.schema.tables import contact as contact_t
from crm_tui.store.schema.tables import customer as customer_t

if TYPE_CHECKING:
    from crm_tui.store.store import Store


@dataclass
class Merge:
    """What merging gave one database customer, to be written with the batch."""

    target: Target
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)


def contact_key(contact: dict[str, Any]) -> tuple[str, str, str]:
    """A contact as compared when merging: its name key, phone and email."""
    return (validate.name_key(contact.get("name") or ""), contact.get("phone") or "",
            contact.get("email") or "")


class Merger:
    """Merges rows into their targets, keeping ``index`` current and counting conflicts."""

    def __init__(self, store: Store, index: KeyIndex, report: ImportReport) -> None:
        self.store, self.index, self.report = store, index, report

    def merge(self, conn: Connection, row: PreparedRow, target: Target,
              merges: dict[int, Merge]) -> bool:
        """Fill ``target``'s empty fields from ``row``; True when anything was added."""
        if target.pending is not None:
            return self.merge_pending(row, target)
        if target.customer_id is None:
            # An added row of an earlier batch in a dry run: it would be merged into.
            return True
        if target.values is None:
            self._load_values(conn, target)
        if target.tags is None:
            target.tags = set(self.store._tags_of(conn, target.customer_id))
            target.contact_keys = {
                contact_key(dict(name=c.name, phone=c.phone, email=c.email))
                for c in conn.execute(select(contact_t.c.name, contact_t.c.phone, contact_t.c.email)
                                      .where(contact_t.c.customer_id == target.customer_id))
            }
        merge = merges.get(target.customer_id)
        if merge is None:
            merge = merges[target.customer_id] = Merge(target)
        current = target.values or {}
        changed = False
        for name in sorted(row.provided - {"name"}):
            new = getattr(row.data, name)
            old = current.get(name)
            if old in (None, ""):
                current[name] = new
                merge.changes[name] = (old, new)
                changed = True
            elif old != new:
                self._conflict(row.number, target, name, old, new)
        extra_now = current.setdefault("extra", {})
        for key, value in row.extra.items():
            if key not in extra_now:
                extra_now[key] = value
                merge.extra[key] = value
                changed = True
            elif extra_now[key] != value:
                self._conflict(row.number, target, f"extra.{key}", extra_now[key], value)
        for tag in row.tags:
            if tag not in target.tags:
                target.tags.add(tag)
                merge.tags.append(tag)
                changed = True
        for contact in row.contacts:
            known = contact_key(contact)
            if known not in (target.contact_keys or set()):
                (target.contact_keys or set()).add(known)
                merge.contacts.append(dict(contact, is_primary=False))
                changed = True
        if changed:
            self._reindex(target, current.get("name") or "", current.get("phone"),
                          current.get("email"), current.get("company"), current.get("kind"))
        return changed

    def merge_pending(self, row: PreparedRow, target: Target) -> bool:
        """Merge ``row`` into a row of this batch that is about to be added."""
        pending = target.pending
        assert pending is not None
        changed = False
        for name in sorted(row.provided - {"name"}):
            new, old = getattr(row.data, name), getattr(pending.data, name)
            if name not in pending.provided or old in (None, ""):
                setattr(pending.data, name, new)
                pending.provided.add(name)
                changed = changed or old != new
            elif old != new:
                self._conflict(row.number, target, name, old, new)
        for key, value in row.extra.items():
            if key not in pending.extra:
                pending.extra[key] = value
                changed = True
            elif pending.extra[key] != value:
                self._conflict(row.number, target, f"extra.{key}", pending.extra[key], value)
        for tag in row.tags:
            if tag not in pending.tags:
                pending.tags.append(tag)
                changed = True
        known = {contact_key(c) for c in pending.contacts}
        for contact in row.contacts:
            if contact_key(contact) not in known:
                known.add(contact_key(contact))
                pending.contacts.append(dict(contact, is_primary=False))
                changed = True
        if changed:
            data = pending.data
            pending.search_text = None
            pending.match_key = match_key(data.name, data.kind, data.company)
            self._reindex(target, data.name, data.phone, data.email, data.company, data.kind)
        return changed

    def _reindex(self, target: Target, name: str, phone: str | None, email: str | None,
                 company: str | None, kind: str | None) -> None:
        """Let later rows find ``target`` by the keys a merge gave it."""
        self.index.add(target, phone, email, match_key(name, kind, company))

    def _conflict(self, number: int, target: Target, name: str, old: Any, new: Any) -> None:
        """A differing non-empty value: the existing one is kept, and the report says so."""
        self.report.conflicts += 1
        if len(self.report.conflict_examples) < PROBLEM_LIMIT:
            self.report.conflict_examples.append({
                "row": number, "customer_id": target.customer_id, "added_by_row": target.row,
                "field": name, "kept": old, "file": new,
            })

    def _load_values(self, conn: Connection, target: Target) -> None:
        found = conn.execute(
            select(*(customer_t.c[name] for name in CUSTOMER_FIELDS), customer_t.c.extra,
                   customer_t.c.version).where(customer_t.c.id == target.customer_id)
        ).one()
        target.values = {name: getattr(found, name) for name in CUSTOMER_FIELDS}
        target.values["extra"] = dict(found.extra or {})
        target.version = found.version
