"""Applying and reporting migrations (``crm init``, ``crm db upgrade``, ``crm db status``).

Alembic is imported here only, so the everyday commands never pay for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine

from crm_tui.store.db.engine import enable_wal, make_engine
from crm_tui.store.schema.version import SCHEMA_HEAD

if TYPE_CHECKING:  # Alembic is imported where it is used, never on the store's path
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


@dataclass
class SchemaStatus:
    current: str | None
    head: str
    pending: list[str]

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    def as_dict(self) -> dict[str, object]:
        return {"current": self.current, "head": self.head, "pending": self.pending,
                "up_to_date": self.up_to_date}


def _config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for our migrations, running on ``connection`` when given."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _refuse_newer(engine: Engine, current: str | None) -> None:
    """A revision this crm does not know was made by a newer crm: ``SchemaTooNew``, not
    Alembic's "Can't locate revision" (issue 22, item 10)."""
    from crm_tui.store.db.engine import describe_url
    from crm_tui.store.db.session import is_known_revision
    from crm_tui.store.errors import SchemaTooNew

    if current is not None and not is_known_revision(current):
        raise SchemaTooNew(
            f"The database {describe_url(str(engine.url))} is at schema {current}, which is "
            f"newer than this crm knows (it has {SCHEMA_HEAD}): upgrade crm itself."
        )


def status(url: str | None = None, engine: Engine | None = None) -> SchemaStatus:
    """Where the database stands against the migrations (a missing SQLite file is ``NotFound``)."""
    if engine is None:
        own = make_engine(url or "")
        try:
            return status(engine=own)
        finally:
            own.dispose()
    current = current_revision(engine)
    _refuse_newer(engine, current)
    script = _script()
    head = script.get_current_head() or SCHEMA_HEAD
    pending = [rev.revision for rev in script.iterate_revisions(head, current)] if current != head else []
    pending.reverse()
    return SchemaStatus(current=current, head=head, pending=pending)


def upgrade(
    url: str | None = None, engine: Engine | None = None, *, create: bool = True
) -> SchemaStatus:
    """Bring the database to the head revision (a new SQLite file only with ``create``, as
    ``crm init`` asks; ``crm db upgrade`` does not); WAL on for SQLite."""
    from alembic import command

    if engine is None:
        own = make_engine(url or "", create=create, timeouts=False)
        try:
            return upgrade(engine=own)
        finally:
            own.dispose()
    _refuse_newer(engine, current_revision(engine))
    enable_wal(engine)
    with engine.connect() as conn:
        command.upgrade(_config(conn), "head")
        if conn.dialect.name == "postgresql":
            # A database whose crm init installed older grants and policies gets this version's
            # (issue 22); the table owner only, as for the migrations themselves.
            from crm_tui.store.security.row_level import install_security_if_changed

            install_security_if_changed(conn)
        conn.commit()
    return status(engine=engine)
