"""Schema head, kept apart so opening a store never imports Alembic."""

SCHEMA_HEAD = "0005"
"""The Alembic revision this version of crm needs; a test checks it against the migrations."""
