"""Customers: create (with the duplicate check), edit (optimistic locking), contacts, tags."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from crm_tui.store import validate
from crm_tui.store.customers.duplicates import DuplicateKeys, DuplicateMatch, match_key
from crm_tui.store.db.base import (
    StoreBase,
    customer_select,
    customer_t,
    customer_tag_t,
    rep_t,
    tag_t,
)
from crm_tui.store.errors import AlreadyExists, Conflict, NotFound, PermissionDenied, UsageError
from crm_tui.store.records import Actor, ContactRecord, CustomerRecord
from crm_tui.store.schema.tables import contact as contact_t
from crm_tui.store.schema.tables import merged_customer as merged_t
from crm_tui.store.search.sort_key import name_sort_key
from crm_tui.store.search.tokens import customer_tokens
from crm_tui.store.validate import CustomerInput

EDITABLE_FIELDS = (
    "name", "kind", "company", "industry", "region", "address", "phone", "email",
    "source", "status", "tier", "notes",
)


class CustomerOps(StoreBase):
    """Creating and editing customers; every field validated here, once."""

    # --- validation ---------------------------------------------------------------------------

    def validate_customer(self, fields: dict[str, Any], region: str) -> CustomerInput:
        """Validate raw field values (as typed or imported); the first bad one raises."""
        return validate.customer(fields, region)

    # --- duplicate check ----------------------------------------------------------------------

    def find_duplicates(
        self, conn: Connection, data: CustomerInput, exclude_id: int | None = None
    ) -> list[DuplicateMatch]:
        """Customers (anyone's) that duplicate ``data``, the strongest match first: the same
        phone or email, or the same name at the same company (``customers/duplicates.py``
        defines it, once). A name alone is no duplicate."""
        keys = DuplicateKeys.of(data.name, data.kind, data.company, data.phone, data.email)
        return self.duplicate_matches(conn, keys, exclude_id)

    def _refuse_duplicates(
        self, conn: Connection, actor: Actor, matches: list[DuplicateMatch], force: bool
    ) -> None:
        """DESIGN §5: say who owns the strongest match; refuse another rep's; ``force`` adds a
        look-alike only where every match is the actor's own or in the open sea (an admin may
        always force). The refusal says whether forcing would be allowed (``force_allowed``)."""
        if not matches:
            return
        blocking = [m for m in matches if m.owner_id is not None and m.owner_id != actor.id]
        force_allowed = actor.is_admin or not blocking
        if force and force_allowed:
            return
        strongest = matches[0]
        if strongest.owner_id is not None and strongest.owner_id != actor.id:
            message = (f"This customer already exists (same {strongest.matched_on}), owned by "
                       f"{_owner(strongest)}.")
            if force_allowed:
                message = message[:-1] + "; use --force to add a look-alike."
            raise AlreadyExists(message, None, strongest.owner_login, force_allowed=force_allowed,
                                matched_on=strongest.matched_on)
        where = "in the open sea" if strongest.owner_id is None else "owned by you"
        message = (f"This customer already exists (same {strongest.matched_on}) as customer "
                   f"{strongest.customer_id}, {where}")
        if force_allowed:
            message += "; use --force to add a look-alike."
        else:
            other = blocking[0]
            message += (f"; it also matches a customer owned by {_owner(other)} (same "
                        f"{other.matched_on}), so it cannot be added again.")
        merge_allowed = (self.may_manage(conn, actor, strongest.owner_id)
                         if strongest.owner_id is not None else actor.is_manager)
        raise AlreadyExists(message, strongest.customer_id, strongest.owner_login,
                            force_allowed=force_allowed, merge_allowed=merge_allowed,
                            matched_on=strongest.matched_on)

    # --- create -------------------------------------------------------------------------------

    def add_customer(
        self,
        actor: Actor,
        fields: dict[str, Any],
        *,
        pool: bool = False,
        force: bool = False,
        tags: list[str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> CustomerRecord:
        """Create a customer in ``actor``'s private sea (or the open sea with ``pool``)."""
        with self.write() as conn:
            region = str(self.rule(conn, "default_phone_region"))
            data = self.validate_customer(fields, region)
            self._refuse_duplicates(conn, actor, self.find_duplicates(conn, data), force)
            owner_id = None if pool else actor.id
            if owner_id is not None:
                self._lock_rep(conn, owner_id)
                self._check_private_cap(conn, owner_id)
            customer_id = self._insert_customer(conn, actor, data, owner_id, extra)
            if tags:
                self._set_tags(conn, customer_id, tags)
            self._ownership(conn, [customer_id], "created", actor, None, owner_id, None)
            self._audit(conn, actor, "customer", customer_id, "create")
            self._changed(conn, [customer_id])
            row = conn.execute(customer_select().where(customer_t.c.id == customer_id)).one()
            return self._records(conn, [row], actor)[0]

    def _insert_customer(
        self,
        conn: Connection,
        actor: Actor | None,
        data: CustomerInput,
        owner_id: int | None,
        extra: dict[str, Any] | None,
    ) -> int:
        now = self.clock.now()
        values = dict(vars(data))
        values.update(
            extra=extra or None,
            owner_id=owner_id,
            claimed_at=now if owner_id is not None else None,
            pool_entered_at=now if owner_id is None else None,
            locked=False,
            search_text=customer_tokens(data.name, data.company, data.phone, data.email),
            name_key=validate.name_key(data.name),
            sort_key=name_sort_key(data.name),
            match_key=match_key(data.name, data.kind, data.company),
            created_at=now,
            updated_at=now,
            updated_by_id=actor.id if actor else None,
            version=1,
        )
        return int(conn.execute(insert(customer_t).values(**values).returning(customer_t.c.id)).scalar_one())

    # --- edit ---------------------------------------------------------------------------------

    def _editable_row(self, conn: Connection, actor: Actor, customer_id: int) -> Any:
        row = self._visible_customer_row(conn, actor, customer_id)
        if row.owner_id is None:
            if not actor.is_manager:
                raise PermissionDenied(
                    f"Customer {customer_id} is in the open sea: claim it before editing it."
                )
        elif not self.may_manage(conn, actor, row.owner_id):
            raise PermissionDenied(f"Customer {customer_id} belongs to {row.owner_login}.")
        return row

    def update_customer(
        self,
        actor: Actor,
        customer_id: int,
        changes: dict[str, Any],
        *,
        expected_version: int | None = None,
        force: bool = False,
        tags: str | Iterable[str] | None = None,
    ) -> CustomerRecord:
        """Change fields; with ``expected_version`` a save over someone else's change is refused.

        ``tags`` (text as typed, read by ``validate.parse_tags``, or a list) replaces the
        customer's tags in the same transaction, version and audit row as the fields; None
        leaves them as they are. A refused edit changes neither.
        """
        unknown = set(changes) - set(EDITABLE_FIELDS) - {"extra"}
        if unknown:
            raise UsageError(f"Unknown customer field {sorted(unknown)[0]!r}.")
        with self.write() as conn:
            row = self._editable_row(conn, actor, customer_id)
            region = str(self.rule(conn, "default_phone_region"))
            current = {name: getattr(row, name) for name in EDITABLE_FIELDS}
            merged = self.validate_customer({**current, **changes}, region)
            new_values = {
                name: getattr(merged, name) for name in EDITABLE_FIELDS
                if name in changes and getattr(merged, name) != current[name]
            }
            if "extra" in changes:
                new_values["extra"] = changes["extra"] or None
            if any(key in new_values for key in ("name", "kind", "company", "phone", "email")):
                self._refuse_duplicates(
                    conn, actor, self.find_duplicates(conn, merged, exclude_id=customer_id), force
                )
            old_tags = self._tags_of(conn, customer_id) if tags is not None else []
            new_tags = validate.parse_tags(tags) if tags is not None else None
            if new_tags is not None and set(new_tags) == set(old_tags):
                new_tags = None
            version = expected_version if expected_version is not None else row.version
            if not new_values and new_tags is None:
                if version != row.version:
                    raise self._conflict(conn, customer_id)
                return self._records(conn, [row], actor)[0]
            if any(key in new_values for key in ("name", "company", "phone", "email")):
                new_values["search_text"] = self._search_text(conn, customer_id, merged)
                new_values["name_key"] = validate.name_key(merged.name)
                new_values["sort_key"] = name_sort_key(merged.name)
            if any(key in new_values for key in ("name", "kind", "company")):
                new_values["match_key"] = match_key(merged.name, merged.kind, merged.company)
            updated = conn.execute(
                update(customer_t)
                .where(customer_t.c.id == customer_id, customer_t.c.version == version)
                .values(
                    **new_values,
                    updated_at=self.clock.now(),
                    updated_by_id=actor.id,
                    version=customer_t.c.version + 1,
                )
            ).rowcount
            if updated != 1:
                raise self._conflict(conn, customer_id)
            audited = {
                name: (current.get(name), value)
                for name, value in new_values.items()
                if name in EDITABLE_FIELDS or name == "extra"
            }
            if new_tags is not None:
                self._set_tags(conn, customer_id, new_tags)
                audited["tags"] = (", ".join(old_tags), ", ".join(self._tags_of(conn, customer_id)))
            self._audit(conn, actor, "customer", customer_id, "update", audited)
            self._changed(conn, [customer_id])
            fresh = conn.execute(customer_select().where(customer_t.c.id == customer_id)).one()
            return self._records(conn, [fresh], actor)[0]

    def _conflict(self, conn: Connection, customer_id: int) -> Conflict:
        row = conn.execute(
            select(customer_t.c.updated_at, rep_t.c.login, rep_t.c.name)
            .select_from(customer_t.outerjoin(rep_t, rep_t.c.id == customer_t.c.updated_by_id))
            .where(customer_t.c.id == customer_id)
        ).first()
        if row is None:
            into = conn.execute(
                select(merged_t.c.merged_into).where(merged_t.c.id == customer_id)
            ).scalar()
            if into is not None:
                return Conflict(f"Customer {customer_id} was merged into #{into} meanwhile; "
                                f"nothing was saved: make the change on #{into}.", None, None)
            return Conflict(f"Customer {customer_id} was deleted meanwhile.", None, None)
        who = row.name or row.login or "someone"
        when = row.updated_at.astimezone().strftime("%Y-%m-%d %H:%M")
        return Conflict(
            f"Customer {customer_id} was changed by {who} at {when}; reload it or keep yours.",
            row.login,
            row.updated_at,
        )

    def _search_text(self, conn: Connection, customer_id: int, data: Any) -> str:
        contacts = conn.execute(
            select(contact_t.c.name, contact_t.c.phone, contact_t.c.email).where(
                contact_t.c.customer_id == customer_id
            )
        ).all()
        return customer_tokens(data.name, data.company, data.phone, data.email,
                               [tuple(c) for c in contacts])

    def _refresh_search_text(self, conn: Connection, customer_id: int) -> None:
        row = conn.execute(
            select(customer_t.c.name, customer_t.c.company, customer_t.c.phone, customer_t.c.email)
            .where(customer_t.c.id == customer_id)
        ).one()
        conn.execute(
            update(customer_t)
            .where(customer_t.c.id == customer_id)
            .values(search_text=self._search_text(conn, customer_id, row))
        )

    # --- contacts -----------------------------------------------------------------------------

    def add_contact(self, actor: Actor, customer_id: int, fields: dict[str, Any]) -> ContactRecord:
        with self.write() as conn:
            self._editable_row(conn, actor, customer_id)
            region = str(self.rule(conn, "default_phone_region"))
            values = self._contact_values(fields, region)
            if values["is_primary"]:
                conn.execute(
                    update(contact_t).where(contact_t.c.customer_id == customer_id).values(is_primary=False)
                )
            contact_id = conn.execute(
                insert(contact_t).values(customer_id=customer_id, **values).returning(contact_t.c.id)
            ).scalar_one()
            self._refresh_search_text(conn, customer_id)
            self._touch(conn, actor, customer_id)
            self._audit(conn, actor, "contact", contact_id, "create",
                        {k: (None, v) for k, v in values.items() if v not in (None, False)})
            self._changed(conn, [customer_id])
            return ContactRecord(id=contact_id, customer_id=customer_id, **values)

    def update_contact(self, actor: Actor, contact_id: int, fields: dict[str, Any]) -> ContactRecord:
        with self.write() as conn:
            row = conn.execute(select(contact_t).where(contact_t.c.id == contact_id)).first()
            if row is None:
                raise NotFound(f"No contact {contact_id}.")
            self._editable_row(conn, actor, row.customer_id)
            region = str(self.rule(conn, "default_phone_region"))
            current = {k: getattr(row, k) for k in ("name", "title", "phone", "email", "wechat", "is_primary")}
            values = self._contact_values({**current, **fields}, region)
            changes = {k: (current[k], v) for k, v in values.items() if current[k] != v}
            if values["is_primary"] and not row.is_primary:
                conn.execute(
                    update(contact_t).where(contact_t.c.customer_id == row.customer_id)
                    .values(is_primary=False)
                )
            conn.execute(update(contact_t).where(contact_t.c.id == contact_id).values(**values))
            self._refresh_search_text(conn, row.customer_id)
            self._touch(conn, actor, row.customer_id)
            if changes:
                self._audit(conn, actor, "contact", contact_id, "update", changes)
            self._changed(conn, [row.customer_id])
            return ContactRecord(id=contact_id, customer_id=row.customer_id, **values)

    def _contact_values(self, fields: dict[str, Any], region: str) -> dict[str, Any]:
        return validate.contact(fields, region)

    def _touch(self, conn: Connection, actor: Actor, customer_id: int) -> None:
        """Bump the customer's version so an open edit form notices the change."""
        conn.execute(
            update(customer_t).where(customer_t.c.id == customer_id).values(
                updated_at=self.clock.now(), updated_by_id=actor.id, version=customer_t.c.version + 1
            )
        )

    # --- tags ---------------------------------------------------------------------------------

    def set_tags(self, actor: Actor, customer_id: int, tags: list[str]) -> CustomerRecord:
        with self.write() as conn:
            self._editable_row(conn, actor, customer_id)
            old = self._tags_of(conn, customer_id)
            self._set_tags(conn, customer_id, tags)
            new = self._tags_of(conn, customer_id)
            if old != new:
                self._audit(conn, actor, "customer", customer_id, "update",
                            {"tags": (", ".join(old), ", ".join(new))})
                self._touch(conn, actor, customer_id)
            self._changed(conn, [customer_id])
            row = conn.execute(customer_select().where(customer_t.c.id == customer_id)).one()
            return self._records(conn, [row], actor)[0]

    def _tags_of(self, conn: Connection, customer_id: int) -> list[str]:
        return list(conn.execute(
            select(tag_t.c.name).join(customer_tag_t, customer_tag_t.c.tag_id == tag_t.c.id)
            .where(customer_tag_t.c.customer_id == customer_id).order_by(tag_t.c.name)
        ).scalars())

    def _set_tags(self, conn: Connection, customer_id: int, tags: list[str]) -> None:
        names = validate.tags(tags)
        conn.execute(delete(customer_tag_t).where(customer_tag_t.c.customer_id == customer_id))
        for name in names:
            tag_id = conn.execute(select(tag_t.c.id).where(tag_t.c.name == name)).scalar()
            if tag_id is None:
                tag_id = conn.execute(insert(tag_t).values(name=name).returning(tag_t.c.id)).scalar_one()
            conn.execute(insert(customer_tag_t).values(customer_id=customer_id, tag_id=tag_id))

    # --- lookup -------------------------------------------------------------------------------

    def resolve_customer(self, actor: Actor, ref: str | int) -> int:
        """A customer id from an id or a name matching exactly one visible customer."""
        text_ref = str(ref).strip()
        if any("\ud800" <= ch <= "\udfff" for ch in text_ref):
            raise NotFound("No customer you may see has a name with bytes that are not UTF-8.")
        if text_ref.lstrip("#").isdigit():
            customer_id = int(text_ref.lstrip("#"))
            with self.read() as conn:
                self._visible_customer_row(conn, actor, customer_id)
            return customer_id
        if not text_ref:
            raise UsageError("Name a customer by id or name.")
        with self.read() as conn:
            visible = self.visible(actor)
            ids = list(conn.execute(
                select(customer_t.c.id).where(customer_t.c.name == text_ref, visible).limit(6)
            ).scalars())
            if not ids:
                key = validate.name_key(text_ref)
                ids = list(conn.execute(
                    select(customer_t.c.id).where(customer_t.c.name_key == key, visible).limit(6)
                ).scalars())
        if not ids:
            found = self.search_ids(actor, text_ref, scope="all", limit=6)  # type: ignore[attr-defined]  # SearchOps's, beside this mixin in Store
            ids = found
        if not ids:
            raise NotFound(f"No customer you may see matches {text_ref!r}.")
        if len(ids) > 1:
            shown = ", ".join(str(i) for i in ids[:5])
            raise UsageError(
                f"{text_ref!r} matches several customers ({shown}{', ...' if len(ids) > 5 else ''}); "
                "use the id."
            )
        return ids[0]

    def customer_count(self, conn: Connection | None = None) -> int:
        if conn is None:
            with self.read() as own:
                return self.customer_count(own)
        return int(conn.execute(select(func.count()).select_from(customer_t)).scalar() or 0)


def _owner(match: DuplicateMatch) -> str:
    return f"{match.owner_name or match.owner_login} ({match.owner_login})"
