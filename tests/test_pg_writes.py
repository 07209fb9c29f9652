"""PostgreSQL writes obey the same rules as reads (issue 22, items 1-4; store/security/policies.py).

Rep B connects as his own role with psycopg, as he could with ``psql``, and tries every write the
issue lists, then every write on every table the app has: each is refused or harmless, and rep
A's view (``crm show --history``, ``stats``, her tags and her claims) is the same before and
after. The app itself keeps working for reps through their own roles, a session holding a lock
makes a command fail in a sentence instead of freezing it, and ``crm db upgrade`` brings an older
database the new rules and constraints.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from crm_tui.cli.app import app
from crm_tui.config import resolve_actor
from crm_tui.store import Store
from crm_tui.store.schema.models import metadata
from crm_tui.store.security.policies import RLS_TABLES, TABLE_GRANTS
from tests import test_pg_security
from tests.conftest import PG_ENV
from tests.test_pg_security import Cluster

cluster = test_pg_security.cluster  # the fixture: four reps and A's private customer

pytestmark = pytest.mark.skipif(
    not __import__("os").environ.get(PG_ENV), reason=f"needs PostgreSQL ({PG_ENV})"
)

ESC_NAME = "Open Sea Works \x1b]8;;http://evil\x07click\x1b]8;;\x07\x1b[2J"


class World:
    """The cluster plus what item 3 needs: a won deal of A on a customer A released, a tag on
    A's private customer, a customer of B's own, and A's follow-up."""

    def __init__(self, cluster: Cluster) -> None:
        self.c = cluster
        alice_store = cluster.store_of(cluster.alice)
        bob_store = cluster.store_of(cluster.bob)
        try:
            alice = resolve_actor(alice_store)
            self.alice_id = alice.id
            alice_store.set_tags(alice, cluster.secret, ["vip"])
            self.released = alice_store.add_customer(alice, {"name": "Released Goods"}).id
            self.won_deal = alice_store.add_deal(alice, self.released, "Won once", "9000",
                                                 stage="won").id
            alice_store.release(self.released, alice, reason="no budget this year")
            bob = resolve_actor(bob_store)
            self.bob_id = bob.id
            self.bobs = bob_store.add_customer(bob, {"name": "Bob Own Ltd"}).id
            bob_store.log_follow_up(bob, self.bobs, "called")
        finally:
            alice_store.close()
            bob_store.close()
        self.tag_id = self.owner_scalar("SELECT id FROM tag WHERE name = 'vip'")
        self.alice_follow_up = self.owner_scalar(
            "SELECT id FROM follow_up WHERE customer_id = %s", cluster.secret)

    def owner_scalar(self, sql: str, *params: object) -> Any:
        return self.c.scalar(_owner(self.c), sql, *params)

    def alices_view(self) -> dict[str, Any]:
        """What A sees: her customers' portraits with history, the open sea, stats, her tags."""
        runner = CliRunner()
        url = self.c.url_of(self.c.alice)
        view: dict[str, Any] = {}
        for customer in (self.c.secret, self.released, self.c.pool):
            result = runner.invoke(app, ["--db", url, "show", str(customer), "--history", "--json"])
            assert result.exit_code == 0, result.stderr
            view[f"show {customer}"] = json.loads(result.stdout)
        for command in (["stats", "--json"], ["find", "--all", "--json"], ["due", "--json"]):
            result = runner.invoke(app, ["--db", url, *command])
            assert result.exit_code == 0, (command, result.stderr)
            document = json.loads(result.stdout)
            if isinstance(document, dict):
                document.pop("generated_at", None)  # the moment it was asked
            view[" ".join(command)] = document
        return view


def _owner(cluster: Cluster) -> str:
    from sqlalchemy.engine import make_url

    return str(make_url(cluster.url.replace("postgresql://", "postgresql+psycopg://", 1)).username)


@pytest.fixture
def world(cluster: Cluster) -> World:
    return World(cluster)


@pytest.fixture
def bob_sql(world: World) -> Iterator[Any]:
    """Bob's own psycopg connection, autocommit, as at a psql prompt."""
    import psycopg

    with psycopg.connect(world.c.url_of(world.c.bob), autocommit=True) as conn:
        yield conn


def refused_or_nothing(conn: Any, sql: str, *params: object) -> str:
    """Run ``sql`` as Bob: "refused" when PostgreSQL refuses it, "nothing" when it changed no
    row; anything else fails the test."""
    import psycopg

    try:
        count = conn.execute(sql, params).rowcount
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.CheckViolation,
            psycopg.errors.RaiseException) as exc:
        return f"refused: {str(exc).splitlines()[0]}"
    assert count == 0, f"{sql} changed {count} rows"
    return "nothing"


def test_every_table_has_a_rule_and_row_level_security():
    tables = set(metadata.tables) | {"alembic_version"}
    assert tables <= set(TABLE_GRANTS), "a table without a rule gets no grant: name it in policies.py"
    written = {t for t, grants in TABLE_GRANTS.items() if grants != "SELECT"}
    assert written <= set(RLS_TABLES)


def test_bob_cannot_forge_history_or_figures(world: World, bob_sql: Any):
    c, a, b = world.c, world.alice_id, world.bob_id
    before = world.alices_view()
    # Item 1: 25 "claimed" events naming A would use up her daily claims.
    assert refused_or_nothing(
        bob_sql, "INSERT INTO ownership_event (customer_id, kind, actor_id, to_rep_id, at) "
        "SELECT %s, 'claimed', %s, %s, now() FROM generate_series(1, 25)", c.pool, a, a,
    ).startswith("refused")
    # Naming himself as actor but A as the one who claimed, or on a customer he cannot see.
    for customer, actor, from_rep, to_rep in ((c.pool, b, None, a), (c.pool, b, a, None),
                                              (c.secret, b, None, b), (c.secret, a, a, None),
                                              (c.pool, None, a, None)):
        assert refused_or_nothing(
            bob_sql, "INSERT INTO ownership_event (customer_id, kind, actor_id, from_rep_id, "
            "to_rep_id, at) VALUES (%s, 'released', %s, %s, %s, now())",
            customer, actor, from_rep, to_rep,
        ).startswith("refused"), (customer, actor, from_rep, to_rep)
    for entity, entity_id, actor, action, old in (
        ("customer", c.secret, a, "update", None), ("customer", c.secret, b, "update", None),
        ("customer", c.pool, a, "update", None), ("customer", c.pool, None, "recycle", c.alice),
        ("rep", a, b, "update", None), ("setting", None, b, "update", None),
    ):
        assert refused_or_nothing(
            bob_sql, "INSERT INTO audit_event (actor_id, entity, entity_id, action, field, old, "
            "new, at) VALUES (%s, %s, %s, %s, 'owner', %s, NULL, now())",
            actor, entity, entity_id, action, old,
        ).startswith("refused"), (entity, actor, action)
    # Ten follow-ups "by A" would raise her 7-day figure; on his own customer or the open sea.
    for customer in (world.bobs, c.pool):
        assert refused_or_nothing(
            bob_sql, "INSERT INTO follow_up (customer_id, rep_id, at, channel, summary) "
            "SELECT %s, %s, now(), 'call', 'x' FROM generate_series(1, 10)", customer, a,
        ).startswith("refused")
    # A follow-up of his own on an open-sea customer (the app says: claim it first).
    assert refused_or_nothing(
        bob_sql, "INSERT INTO follow_up (customer_id, rep_id, at, channel, summary) "
        "VALUES (%s, %s, now(), 'call', 'x')", c.pool, b,
    ).startswith("refused")
    # What he may write names him, and only him (his own customer).
    bob_sql.execute("INSERT INTO audit_event (actor_id, entity, entity_id, action, at) "
                    "VALUES (%s, 'customer', %s, 'note', now())", (b, world.bobs))
    assert world.alices_view() == before
    # A's next claim is not refused by the forged events (the daily limit is 20).
    with __import__("psycopg").connect(c.url, autocommit=True) as owner:
        owner.execute("INSERT INTO setting (key, value) VALUES ('daily_claim_limit', '20') "
                      "ON CONFLICT (key) DO UPDATE SET value = '20'")
    result = CliRunner().invoke(app, ["--db", c.url_of(c.alice), "claim", str(c.pool)])
    assert result.exit_code == 0, result.stderr


def test_bob_cannot_rename_or_delete_tags_or_erase_or_rewrite(world: World, bob_sql: Any):
    c = world.c
    before = world.alices_view()
    attempts = [
        # Item 2: tags.
        ("UPDATE tag SET name = 'b-renamed' WHERE id = %s", world.tag_id),
        ("DELETE FROM tag WHERE id = %s", world.tag_id),
        ("DELETE FROM customer_tag WHERE tag_id = %s", world.tag_id),
        # Item 3: erase history by cascade, rewrite A's won deal, delete her follow-up.
        ("DELETE FROM customer WHERE id = %s", world.bobs),
        ("DELETE FROM customer WHERE id = %s", world.released),
        ("UPDATE deal SET amount = 0.01, stage = 'lost' WHERE id = %s", world.won_deal),
        ("UPDATE deal SET amount = 0.01, stage = 'lost'", None),
        ("DELETE FROM follow_up WHERE id = %s", world.alice_follow_up),
        ("DELETE FROM follow_up", None),
        ("UPDATE follow_up SET summary = 'x'", None),
        ("DELETE FROM ownership_event", None),
        ("DELETE FROM audit_event", None),
        # Control characters in a name an export prints, on the open sea or his own.
        ("UPDATE customer SET name = %s WHERE id = %s", (ESC_NAME, c.pool)),
        ("UPDATE customer SET name = %s WHERE id = %s", (ESC_NAME, world.bobs)),
        ("UPDATE customer SET notes = %s WHERE id = %s", ("\x1b[31mred", world.bobs)),
        ("UPDATE customer SET extra = %s WHERE id = %s", ('{"k": "\\u001b[2J"}', world.bobs)),
        ("UPDATE contact SET name = %s", ("\x9b2J",)),
        ("INSERT INTO tag (name) VALUES (%s)", ("\x1b[5mblink",)),
        # Naming A as the one who released or last changed a customer he may write.
        ("UPDATE customer SET released_by_id = %s, release_reason = 'A dumped it' WHERE id = %s",
         (world.alice_id, c.pool)),
        ("UPDATE customer SET updated_by_id = %s WHERE id = %s", (world.alice_id, world.bobs)),
        # Open-sea contacts and tags are a manager's to change.
        ("UPDATE contact SET name = 'x' WHERE customer_id = %s", c.pool),
        ("DELETE FROM customer_tag WHERE customer_id = %s", c.pool),
    ]
    for sql, params in attempts:
        args = params if isinstance(params, tuple) else (() if params is None else (params,))
        outcome = refused_or_nothing(bob_sql, sql, *args)
        assert outcome, sql
    assert world.alices_view() == before
    # Nothing of A's is gone or changed, seen as the owner of the tables.
    owner = _owner(c)
    assert c.scalar(owner, "SELECT count(*) FROM customer_tag WHERE customer_id = %s", c.secret) == 1
    assert c.scalar(owner, "SELECT name FROM tag WHERE id = %s", world.tag_id) == "vip"
    assert c.scalar(owner, "SELECT stage FROM deal WHERE id = %s", world.won_deal) == "won"
    assert c.scalar(owner, "SELECT count(*) FROM ownership_event WHERE customer_id = %s",
                    world.bobs) >= 1
    assert c.scalar(owner, "SELECT count(*) FROM customer WHERE name ~ '[\\u0001-\\u001f]'") == 0


def test_every_write_on_every_table_is_refused_or_harmless(world: World, bob_sql: Any):
    """DELETE, TRUNCATE, UPDATE of every column and INSERT of a copy of an A row, on every
    table: each refused, or touching only rows Bob may change (checked with RETURNING)."""
    import psycopg

    c, b = world.c, world.bob_id
    owner = _owner(c)
    before = world.alices_view()
    with psycopg.connect(c.url_of(owner)) as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")]
        columns = {t: [row[0] for row in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = %s ORDER BY ordinal_position", (t,))] for t in tables}
    assert set(tables) <= set(TABLE_GRANTS)
    bobs_customers = {world.bobs, c.pool, world.released}  # his own and the open sea

    def may(table: str, row: dict[str, Any], verb: str) -> bool:
        """Whether Bob may do ``verb`` to ``row`` by the app's rules."""
        customer = row.get("customer_id", row.get("id") if table == "customer" else None)
        if table == "setting":
            return str(row["key"]).startswith("state.")
        if table == "customer":
            return row["owner_id"] in (None, b)
        if table in ("contact", "customer_tag"):
            return customer == world.bobs or (verb == "INSERT" and customer in bobs_customers)
        if table == "deal":
            return customer in bobs_customers and row["owner_id"] in (None, b)
        if table == "tag":
            return verb == "INSERT"
        return False

    def attempt(sql: str, table: str, verb: str, params: tuple[Any, ...] = ()) -> None:
        with bob_sql.transaction(force_rollback=True):
            try:
                with bob_sql.transaction():
                    cursor = bob_sql.execute(sql, params)
                    rows = cursor.fetchall() if cursor.description else []
                    names = [d.name for d in cursor.description or []]
            except (psycopg.errors.InsufficientPrivilege, psycopg.errors.CheckViolation,
                    psycopg.errors.RaiseException, psycopg.errors.NotNullViolation,
                    psycopg.errors.UniqueViolation, psycopg.errors.ForeignKeyViolation):
                return
            for values in rows:
                row = dict(zip(names, values, strict=True))
                assert may(table, row, verb), f"{sql}: {row}"

    for table in tables:
        attempt(f"DELETE FROM {table} RETURNING *", table, "DELETE")
        attempt(f"TRUNCATE {table} CASCADE", table, "TRUNCATE")
        for column in columns[table]:
            attempt(f"UPDATE {table} SET {column} = {column} RETURNING *", table, "UPDATE")
        with psycopg.connect(c.url_of(owner)) as conn:
            sample = conn.execute(f"SELECT * FROM {table} LIMIT 1").fetchone()
            names = columns[table]
        if sample is None:
            continue
        values = dict(zip(names, sample, strict=True))
        values.pop("id", None)
        for key, value in values.items():
            if isinstance(value, dict):
                values[key] = json.dumps(value)
        if table == "rep":
            values["login"] = "forged_" + str(values["login"])
        if table == "tag":
            values["name"] = "bobs-new-tag"
        if table == "setting":
            values["key"] = "private_cap"
        marks = ", ".join(["%s"] * len(values))
        attempt(f"INSERT INTO {table} ({', '.join(values)}) VALUES ({marks}) RETURNING *",
                table, "INSERT", tuple(values.values()))
    assert world.alices_view() == before


def test_a_held_lock_fails_a_command_in_a_sentence(world: World, monkeypatch: pytest.MonkeyPatch):
    """Item 4: Bob holds ACCESS EXCLUSIVE on customer; A's `crm find` fails within the lock
    timeout, saying why, instead of waiting as long as Bob likes."""
    import time

    import psycopg

    from crm_tui.store.db import engine

    monkeypatch.setattr(engine, "LOCK_TIMEOUT_MS", 1_000)
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        with psycopg.connect(world.c.url_of(world.c.bob)) as conn:
            conn.execute("LOCK TABLE customer IN ACCESS EXCLUSIVE MODE")
            locked.set()
            release.wait(60)
            conn.rollback()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(30)
        started = time.monotonic()
        result = CliRunner().invoke(app, ["--db", world.c.url_of(world.c.alice), "find", "Alpha"])
        took = time.monotonic() - started
    finally:
        release.set()
        holder.join(30)
    assert result.exit_code == 1
    assert "busy" in result.stderr and "lock" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "SELECT" not in result.stderr
    assert took < 10


def test_the_app_works_for_reps_through_their_roles(world: World):
    """Everything the app does for a rep and a manager passes the write rules."""
    c = world.c
    bob_store, maria_store = c.store_of(c.bob), c.store_of(c.maria)
    try:
        bob = resolve_actor(bob_store)
        claimed = bob_store.claim(world.released, bob)  # with A's won deal on it
        assert claimed.owner == c.bob
        bob_store.log_follow_up(bob, world.released, "met them", next_at="+2d")
        deal = bob_store.add_deal(bob, world.released, "Second round", "1200", stage="proposal")
        bob_store.move_deal(bob, deal.id, "negotiation")
        bob_store.set_tags(bob, world.released, ["hot", "brand-new-tag"])
        contact = bob_store.add_contact(bob, world.released, {"name": "Li Lei"})
        bob_store.update_contact(bob, contact.id, {"title": "CTO"})
        bob_store.update_customer(bob, world.released, {"notes": "line one\nline two"})
        bob_store.release(world.released, bob, reason="not now")
        maria = resolve_actor(maria_store)
        moved = maria_store.transfer(maria, c.alice, c.bob, [c.secret])
        assert moved.moved == 1
    finally:
        bob_store.close()
        maria_store.close()
    owner = _owner(c)
    assert c.scalar(owner, "SELECT stage FROM deal WHERE id = %s", world.won_deal) == "won"
    assert c.scalar(owner, "SELECT owner_id FROM customer WHERE id = %s", c.secret) == world.bob_id


def test_db_upgrade_brings_an_older_database_the_rules_and_constraints(world: World):
    """A database at 0003 with control characters in a name and the old grants: ``crm db
    upgrade`` mends the name, adds the constraints and installs this version's rules."""
    import psycopg
    from alembic import command

    from crm_tui.store.schema import migrate

    c = world.c
    engine = __import__("crm_tui.store.db.engine", fromlist=["make_engine"]).make_engine(
        c.url, timeouts=False)
    try:
        with engine.connect() as conn:
            command.downgrade(migrate._config(conn), "0003")
            conn.commit()
    finally:
        engine.dispose()
    with psycopg.connect(c.url, autocommit=True) as conn:
        conn.execute("UPDATE customer SET name = %s WHERE id = %s", ("Bad\x1b[2JName\nTwo", c.pool))
        conn.execute("GRANT DELETE ON customer, tag TO crm_users")  # as an older crm init did
        conn.execute("COMMENT ON FUNCTION crm_rep_id() IS 'crm-tui security old'")
    result = CliRunner().invoke(app, ["--db", c.url, "db", "upgrade"])
    assert result.exit_code == 0, result.stderr
    with psycopg.connect(c.url) as conn:
        assert conn.execute("SELECT name FROM customer WHERE id = %s",
                            (c.pool,)).fetchone()[0] == "Bad\ufffd[2JName Two"
        assert not conn.execute("SELECT has_table_privilege('crm_users', 'customer', 'DELETE')"
                                ).fetchone()[0]
    import psycopg.errors

    with psycopg.connect(c.url_of(c.alice), autocommit=True) as conn, \
            pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("UPDATE customer SET name = %s WHERE id = %s", ("x\x1by", c.secret))
    assert Store(c.url_of(c.alice)).close() is None  # the store opens: the schema is at head


def test_company_rules_are_an_admins_even_for_a_manager_at_psql(world: World):
    """A manager's own role may not write a company rule (``may_change_rules``: admins only),
    nor an audit row about one; the app's own ``state.*`` keys stay writable for any rep."""
    import psycopg

    c = world.c
    owner = _owner(c)
    with psycopg.connect(c.url_of(owner), autocommit=True) as conn:
        conn.execute("INSERT INTO setting (key, value) VALUES ('private_cap', '5') "
                     "ON CONFLICT (key) DO UPDATE SET value = '5'")
    with psycopg.connect(c.url_of(c.maria), autocommit=True) as maria_sql:
        maria_id = maria_sql.execute("SELECT crm_rep_id()").fetchone()[0]
        assert refused_or_nothing(
            maria_sql, "UPDATE setting SET value = '0' WHERE key = 'private_cap'") == "nothing"
        assert refused_or_nothing(
            maria_sql, "DELETE FROM setting WHERE key = 'private_cap'") == "nothing"
        for sql in ("INSERT INTO setting (key, value) VALUES ('daily_claim_limit', '999')",
                    "INSERT INTO setting (key, value) VALUES ('private_cap', '0') "
                    "ON CONFLICT (key) DO UPDATE SET value = '0'"):
            assert refused_or_nothing(maria_sql, sql).startswith("refused"), sql
        assert refused_or_nothing(
            maria_sql, "INSERT INTO audit_event (at, actor_id, entity, entity_id, action) "
            "VALUES (now(), %s, 'setting', 0, 'update')", maria_id).startswith("refused")
        for key in ("state.last_recycle_at", "state.tiers_dirty", "state.tiers_clean"):
            maria_sql.execute("INSERT INTO setting (key, value) VALUES (%s, '\"x\"') "
                              "ON CONFLICT (key) DO UPDATE SET value = '\"y\"'", (key,))
    assert world.owner_scalar("SELECT value FROM setting WHERE key = 'private_cap'") == "5"
    assert world.owner_scalar(
        "SELECT count(*) FROM setting WHERE key = 'daily_claim_limit'") == 0
