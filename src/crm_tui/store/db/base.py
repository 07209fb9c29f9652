"""The store's foundation: connections, transactions, settings, identity and visibility.

Every operation runs in one transaction (``read()`` or ``write()``), so nothing is half-written.
The acting rep is always passed in explicitly as an ``Actor``; only ``crm_tui.config`` decides
who that is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    false,
    func,
    insert,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.sql import ColumnElement

from crm_tui.store.clock import Clock
from crm_tui.store.db.engine import WRITE_OPTION, describe_url, make_engine
from crm_tui.store.db.notify import ChangeNotifier
from crm_tui.store.errors import DatabaseUnavailable, NotFound, SchemaOutOfDate, UnknownRep
from crm_tui.store.records import Actor, CustomerRecord
from crm_tui.store.schema.tables import audit_event as audit_t
from crm_tui.store.schema.tables import customer as customer_t
from crm_tui.store.schema.tables import customer_tag as customer_tag_t
from crm_tui.store.schema.tables import ownership_event as ownership_t
from crm_tui.store.schema.tables import rep as rep_t
from crm_tui.store.schema.tables import setting as setting_t
from crm_tui.store.schema.tables import tag as tag_t
from crm_tui.store.schema.version import SCHEMA_HEAD
from crm_tui.store.team import settings as rules_mod

if TYPE_CHECKING:
    from crm_tui.store.db.live import ChangeWatcher

owner_rep = rep_t.alias("owner_rep")

_CHANGED_KEY = "crm_changed"
"""``conn.info`` key of the customer ids a ``write()`` will announce after its commit."""
_EVERYTHING = -1
"""Stands for "too many customers to name" among those ids."""
released_rep = rep_t.alias("released_rep")

CUSTOMER_COLUMNS = [
    customer_t.c.id,
    customer_t.c.name,
    customer_t.c.kind,
    customer_t.c.company,
    customer_t.c.industry,
    customer_t.c.region,
    customer_t.c.address,
    customer_t.c.phone,
    customer_t.c.email,
    customer_t.c.source,
    customer_t.c.status,
    customer_t.c.tier,
    customer_t.c.notes,
    customer_t.c.extra,
    customer_t.c.owner_id,
    customer_t.c.claimed_at,
    customer_t.c.last_follow_up_at,
    customer_t.c.next_follow_up_at,
    customer_t.c.pool_entered_at,
    customer_t.c.release_reason,
    customer_t.c.locked,
    customer_t.c.created_at,
    customer_t.c.updated_at,
    customer_t.c.version,
    owner_rep.c.login.label("owner_login"),
    owner_rep.c.name.label("owner_name"),
    released_rep.c.login.label("released_by_login"),
]


def customer_select(*extra: Any):  # type: ignore[no-untyped-def]
    """SELECT of a customer's columns with its owner and releaser resolved to logins."""
    return select(*CUSTOMER_COLUMNS, *extra).select_from(
        customer_t.outerjoin(owner_rep, owner_rep.c.id == customer_t.c.owner_id).outerjoin(
            released_rep, released_rep.c.id == customer_t.c.released_by_id
        )
    )


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    digits = phone
    if len(digits) <= 7:
        return digits[:2] + "*" * (len(digits) - 2)
    return digits[: len(digits) - 8] + "****" + digits[-4:]


def mask_email(email: str | None) -> str | None:
    if not email or "@" not in email:
        return email
    local, _, domain = email.partition("@")
    return (local[:1] or "*") + "***@" + domain


class StoreBase:
    """Engine, clock, transactions and the rules every other part of the store relies on."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock | None = None,
        engine: Engine | None = None,
        check_schema: bool = True,
    ) -> None:
        self.url = url
        self.engine = engine or make_engine(url)
        self.clock = clock or Clock()
        self.backend = self.engine.dialect.name
        self.label = describe_url(url)
        # SQLite clients poll PRAGMA data_version (live.py): nothing to send.
        self.notifier = None if self.backend == "sqlite" else ChangeNotifier(self.engine)
        if check_schema:
            self.ensure_current()

    # --- transactions -------------------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A short read transaction; the connection goes back to the pool at once after."""
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except OperationalError as exc:
            raise self._unavailable(exc) from exc

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite): all of it or none of it.

        The customers it reports with ``_changed`` are announced to other clients only after
        it committed (PostgreSQL; ``notify.ChangeNotifier`` says why), and not at all if it
        rolled back.
        """
        changed: list[int] = []
        try:
            with self.engine.connect() as conn:
                conn.execution_options(**{WRITE_OPTION: True})
                conn.info[_CHANGED_KEY] = changed
                try:
                    with conn.begin():
                        yield conn
                finally:
                    conn.info.pop(_CHANGED_KEY, None)
        except OperationalError as exc:
            raise self._unavailable(exc) from exc
        if changed and self.notifier is not None:
            self.notifier.add(None if _EVERYTHING in changed else changed)

    def _unavailable(self, exc: OperationalError) -> DatabaseUnavailable:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        return DatabaseUnavailable(f"The database {self.label} cannot be used: {reason}.")

    def watch(self, on_change: Callable[[frozenset[int] | None], None]) -> ChangeWatcher:
        """Report other clients' changes to ``on_change`` from now on (``live.py``, DESIGN §6);
        ``stop()`` on the result ends it."""
        from crm_tui.store.db.live import ChangeWatcher

        watcher = ChangeWatcher(self, on_change)
        watcher.start()
        return watcher

    def close(self) -> None:
        if self.notifier is not None:
            self.notifier.close()
        self.engine.dispose()

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"

    # --- schema -------------------------------------------------------------------------------

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at, or None if it was never initialised."""
        try:
            with self.engine.connect() as conn:
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except (OperationalError, ProgrammingError) as exc:
            message = str(exc.orig or exc).lower()
            if "alembic_version" in message and ("no such table" in message or "does not exist" in message):
                return None
            if isinstance(exc, OperationalError):
                raise self._unavailable(exc) from exc
            raise

    def ensure_current(self) -> None:
        """Refuse to work on a database that is not at this version's schema; never alter it."""
        revision = self.schema_revision()
        if revision is None:
            raise SchemaOutOfDate(
                f"The database {self.label} is not initialised: run `crm init` first."
            )
        if revision != SCHEMA_HEAD:
            raise SchemaOutOfDate(
                f"The database {self.label} is at schema {revision}, this crm needs {SCHEMA_HEAD}: "
                "run `crm db upgrade`."
            )

    # --- settings -----------------------------------------------------------------------------

    def rules(self, conn: Connection | None = None) -> dict[str, Any]:
        """Every rule of ``rules.RULES`` with its current value (defaults where unset)."""
        if conn is None:
            with self.read() as own:
                return self.rules(own)
        values = {key: spec.default for key, spec in rules_mod.RULES.items()}
        for key, raw in conn.execute(select(setting_t.c.key, setting_t.c.value)):
            if key in values:
                values[key] = rules_mod.decode(key, raw)
        return values

    def rule(self, conn: Connection, key: str) -> Any:
        raw = conn.execute(select(setting_t.c.value).where(setting_t.c.key == key)).scalar()
        if raw is None:
            return rules_mod.RULES[key].default
        return rules_mod.decode(key, raw)

    def _put_setting(self, conn: Connection, key: str, value: Any) -> None:
        encoded = rules_mod.encode(value)
        updated = conn.execute(
            setting_t.update().where(setting_t.c.key == key).values(value=encoded)
        ).rowcount
        if not updated:
            conn.execute(insert(setting_t).values(key=key, value=encoded))

    # --- identity -----------------------------------------------------------------------------

    def actor(self, login: str) -> Actor:
        """The rep whose login is ``login``; an unknown or inactive one is a clear error."""
        with self.read() as conn:
            row = conn.execute(select(rep_t).where(rep_t.c.login == login)).first()
        if row is None:
            raise UnknownRep(
                f"{login!r} is not a rep of this CRM: an admin can add you with "
                f"`crm reps add {login} --name NAME`."
            )
        actor = Actor(row.id, row.login, row.name, row.role, row.team, row.active)
        if not actor.active:
            raise UnknownRep(f"The rep {login!r} has been deactivated.")
        return actor

    def database_user(self) -> str | None:
        """PostgreSQL's ``current_user`` (the acting rep there); None on SQLite."""
        if self.is_sqlite:
            return None
        with self.read() as conn:
            return conn.execute(text("SELECT current_user")).scalar()

    def _rep_by_login(self, conn: Connection, login: str) -> Any:
        row = conn.execute(select(rep_t).where(rep_t.c.login == login)).first()
        if row is None:
            raise NotFound(f"There is no rep with the login {login!r}.")
        return row

    # --- visibility ---------------------------------------------------------------------------

    def visible(self, actor: Actor) -> ColumnElement[bool]:
        """DESIGN §5: the customers ``actor`` may see — own and open sea; a manager's team; all."""
        if actor.is_admin:
            return true()
        own_or_pool = or_(customer_t.c.owner_id.is_(None), customer_t.c.owner_id == actor.id)
        if actor.role == "manager" and actor.team:
            team = select(rep_t.c.id).where(rep_t.c.team == actor.team)
            return or_(own_or_pool, customer_t.c.owner_id.in_(team))
        return own_or_pool

    def may_manage(self, conn: Connection, actor: Actor, owner_id: int | None) -> bool:
        """Whether ``actor`` manages the private sea of rep ``owner_id`` (own, team or admin)."""
        if actor.is_admin or owner_id == actor.id:
            return True
        if actor.role != "manager" or owner_id is None or not actor.team:
            return False
        team = conn.execute(select(rep_t.c.team).where(rep_t.c.id == owner_id)).scalar()
        return team == actor.team

    def scope_clause(self, actor: Actor, scope: str) -> ColumnElement[bool]:
        """``mine``: my private sea; ``pool``: the open sea; ``all``: everything I may see."""
        if scope == "mine":
            return customer_t.c.owner_id == actor.id
        if scope == "pool":
            return customer_t.c.owner_id.is_(None)
        if scope == "all":
            return self.visible(actor)
        return false()

    # --- records ------------------------------------------------------------------------------

    def _records(self, conn: Connection, rows: Sequence[Any], actor: Actor) -> list[CustomerRecord]:
        """Turn customer_select() rows into records: tags attached, pool contacts masked."""
        if not rows:
            return []
        ids = [row.id for row in rows]
        tags: dict[int, list[str]] = {}
        for customer_id, name in conn.execute(
            select(customer_tag_t.c.customer_id, tag_t.c.name)
            .join(tag_t, tag_t.c.id == customer_tag_t.c.tag_id)
            .where(customer_tag_t.c.customer_id.in_(ids))
            .order_by(tag_t.c.name)
        ):
            tags.setdefault(customer_id, []).append(name)
        mask = bool(self.rule(conn, "mask_pool_contacts"))
        return [self._record(row, tags.get(row.id, []), mask) for row in rows]

    @staticmethod
    def _record(row: Any, tags: list[str], mask: bool) -> CustomerRecord:
        masked = mask and row.owner_id is None
        return CustomerRecord(
            id=row.id,
            name=row.name,
            kind=row.kind,
            company=row.company,
            industry=row.industry,
            region=row.region,
            address=row.address,
            phone=mask_phone(row.phone) if masked else row.phone,
            email=mask_email(row.email) if masked else row.email,
            source=row.source,
            status=row.status,
            tier=row.tier,
            tags=tags,
            notes=row.notes,
            extra=dict(row.extra or {}),
            owner=row.owner_login,
            owner_name=row.owner_name,
            claimed_at=row.claimed_at,
            last_follow_up_at=row.last_follow_up_at,
            next_follow_up_at=row.next_follow_up_at,
            pool_entered_at=row.pool_entered_at,
            released_by=row.released_by_login,
            release_reason=row.release_reason,
            locked=bool(row.locked),
            created_at=row.created_at,
            updated_at=row.updated_at,
            version=row.version,
            masked=masked,
        )

    def _visible_customer_row(self, conn: Connection, actor: Actor, customer_id: int) -> Any:
        row = conn.execute(
            customer_select().where(customer_t.c.id == customer_id, self.visible(actor))
        ).first()
        if row is None:
            raise NotFound(f"No customer {customer_id} that you may see.")
        return row

    def get_customer(self, customer_id: int, actor: Actor) -> CustomerRecord:
        with self.read() as conn:
            row = self._visible_customer_row(conn, actor, customer_id)
            return self._records(conn, [row], actor)[0]

    # --- history ------------------------------------------------------------------------------

    def _ownership(
        self,
        conn: Connection,
        customer_ids: Iterable[int],
        kind: str,
        actor: Actor | None,
        from_id: int | None,
        to_id: int | None,
        reason: str | None,
        at: datetime | None = None,
    ) -> None:
        at = at or self.clock.now()
        rows = [
            dict(
                customer_id=cid,
                kind=kind,
                actor_id=actor.id if actor else None,
                from_rep_id=from_id,
                to_rep_id=to_id,
                reason=reason,
                at=at,
            )
            for cid in customer_ids
        ]
        if rows:
            conn.execute(insert(ownership_t), rows)

    def _audit(
        self,
        conn: Connection,
        actor: Actor | None,
        entity: str,
        entity_id: int | None,
        action: str,
        changes: dict[str, tuple[Any, Any]] | None = None,
    ) -> None:
        at = self.clock.now()
        base = dict(actor_id=actor.id if actor else None, entity=entity, entity_id=entity_id,
                    action=action, at=at)
        if not changes:
            conn.execute(insert(audit_t).values(**base))
            return
        conn.execute(
            insert(audit_t),
            [
                dict(base, field=name, old=_audit_text(old), new=_audit_text(new))
                for name, (old, new) in changes.items()
            ],
        )

    def _changed(self, conn: Connection, customer_ids: Iterable[int] | None) -> None:
        """Tell other clients these customers changed (None: too many to name), once this
        ``write()`` commits (PostgreSQL NOTIFY; SQLite clients poll and need nothing)."""
        pending: list[int] = conn.info[_CHANGED_KEY]
        if customer_ids is None:
            pending.append(_EVERYTHING)
        else:
            pending.extend(customer_ids)

    def after_init(self) -> None:
        """Backend set-up after migrations in ``crm init`` (PostgreSQL roles and policies)."""

    # --- reading past row-level security (``security.SecurityOps`` overrides these) -----------

    def rls_applies(self, conn: Connection) -> bool:
        """Whether PostgreSQL row-level security filters this connection's rows (a rep's role).

        False on SQLite and for roles that bypass it (superuser, table owner, BYPASSRLS).
        """
        return False

    def customer_owner(self, conn: Connection, customer_id: int) -> Any | None:
        """Owner of any customer, visible to the actor or not: a row (owner_id, owner_login,
        owner_name), all None in the open sea; None when there is no such customer.

        Only for messages such as "already claimed by X"; never a way to the customer's details.
        """
        return conn.execute(
            select(customer_t.c.owner_id, owner_rep.c.login.label("owner_login"),
                   owner_rep.c.name.label("owner_name"))
            .select_from(customer_t.outerjoin(owner_rep, owner_rep.c.id == customer_t.c.owner_id))
            .where(customer_t.c.id == customer_id)
        ).first()

    def duplicate_candidates(
        self, conn: Connection, name_key: str, phone: str | None, email: str | None,
        exclude_id: int | None,
    ) -> Sequence[Any]:
        """Rows (id, owner_id, phone, email, login, name) of any rep's customers with this name
        key, phone or email, read past row-level security; phone/email hold the given value where
        it matched, else None. Only the PostgreSQL set-up of ``security.py`` provides it."""
        raise NotImplementedError

    def _lock_rep(self, conn: Connection, rep_id: int) -> None:
        """Serialise one rep's claims/adds so the cap and daily limit checks are race-free.

        On SQLite every write transaction already holds the write lock (BEGIN IMMEDIATE);
        on PostgreSQL the rep's row lock orders the transactions of that one rep only. It is
        FOR NO KEY UPDATE, the same lock claims take, so rows that merely refer to the rep
        (events, follow-ups) are not held up by it.
        """
        if not self.is_sqlite:
            conn.execute(select(rep_t.c.id).where(rep_t.c.id == rep_id).with_for_update(key_share=True))

    def _check_private_cap(self, conn: Connection, rep_id: int, adding: int = 1) -> None:
        """Refuse when ``adding`` more customers would take rep ``rep_id`` past ``private_cap``."""
        cap = int(self.rule(conn, "private_cap"))
        if cap <= 0:
            return
        owned = self._count(conn, customer_t.c.owner_id == rep_id)
        if owned + adding > cap:
            from crm_tui.store.errors import RuleRefused

            raise RuleRefused(
                "private_cap",
                f"The private sea is full: {owned} of {cap} customers (rule private_cap).",
            )

    def _count(self, conn: Connection, *where: ColumnElement[bool]) -> int:
        return int(conn.execute(select(func.count()).select_from(customer_t).where(and_(*where))).scalar() or 0)


def _audit_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)
