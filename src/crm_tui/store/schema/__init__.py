"""The tables, their migrations and ``crm init``.

``models.py`` (SQLModel) is the schema's one source; ``tables.py``, the Core twin the store's
queries run on, is generated from it by ``generate_tables``; ``new_migration`` drafts the next
Alembic migration from it; ``migrate.py`` applies them and ``setup.py`` is ``crm init``.
"""
