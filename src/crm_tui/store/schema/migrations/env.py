"""Alembic environment: runs on the connection ``crm_tui.store.schema.migrate`` hands it."""

from __future__ import annotations

from alembic import context

from crm_tui.store.schema.models import metadata

# Search indexes are created by hand in the migrations (FTS5 has no SQLAlchemy model).
_UNMODELLED_TABLES = {"customer_fts", "customer_fts_data", "customer_fts_idx",
                      "customer_fts_docsize", "customer_fts_config", "customer_fts_content"}
_UNMODELLED_INDEXES = {"ix_customer_search_tsv"}


def include_object(obj: object, name: str | None, type_: str, reflected: bool,
                   compare_to: object) -> bool:
    """Autogenerate's filter: leave out the search objects the migrations create by hand."""
    if type_ == "table" and name in _UNMODELLED_TABLES:
        return False
    return not (type_ == "index" and name in _UNMODELLED_INDEXES)


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("crm migrations run through crm_tui.store.schema.migrate, not the alembic CLI")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=include_object,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
