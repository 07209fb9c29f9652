"""The DDL of the search index, in one place: the 0001 migration creates it, bulk loads rebuild it.

SQLite: an external-content FTS5 table over ``customer.search_text`` kept in step by triggers.
PostgreSQL: a GIN index over ``to_tsvector('simple', search_text)``.
"""

from __future__ import annotations

FTS_TABLE = (
    "CREATE VIRTUAL TABLE customer_fts USING fts5(search_text, content='customer', "
    "content_rowid='id', tokenize='unicode61', prefix='1 2 3', detail='none')"
)

FTS_TRIGGERS = {
    "customer_fts_ai": (
        "CREATE TRIGGER customer_fts_ai AFTER INSERT ON customer BEGIN "
        "INSERT INTO customer_fts(rowid, search_text) VALUES (new.id, new.search_text); END"
    ),
    "customer_fts_ad": (
        "CREATE TRIGGER customer_fts_ad AFTER DELETE ON customer BEGIN "
        "INSERT INTO customer_fts(customer_fts, rowid, search_text) "
        "VALUES ('delete', old.id, old.search_text); END"
    ),
    "customer_fts_au": (
        "CREATE TRIGGER customer_fts_au AFTER UPDATE OF search_text ON customer BEGIN "
        "INSERT INTO customer_fts(customer_fts, rowid, search_text) "
        "VALUES ('delete', old.id, old.search_text); "
        "INSERT INTO customer_fts(rowid, search_text) VALUES (new.id, new.search_text); END"
    ),
}

FTS_REBUILD = "INSERT INTO customer_fts(customer_fts) VALUES('rebuild')"

# Bulk loads (triggers dropped) index the customers they just inserted, by id range.
FTS_INSERT_RANGE = (
    "INSERT INTO customer_fts(rowid, search_text) "
    "SELECT id, search_text FROM customer WHERE id BETWEEN ? AND ?"
)

PG_SEARCH_INDEX = (
    "CREATE INDEX ix_customer_search_tsv ON customer "
    "USING gin (to_tsvector('simple'::regconfig, search_text))"
)
PG_DROP_SEARCH_INDEX = "DROP INDEX IF EXISTS ix_customer_search_tsv"
