"""``crm merge`` through a rep's own PostgreSQL role (store/customers/merge.py, the
``crm_merge`` function of store/security/row_level.py).

A rep's role may neither move history nor delete a customer, so on PostgreSQL under row-level
security the store merges through ``crm_merge``, which checks the caller itself and runs the
store's own statements (``merge_moves``). Rep A merges two of her customers with ``crm merge``;
rep B can merge A's customers neither through the app nor by calling the function; and the
function's merge gives what the store's own gives.
"""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from crm_tui.cli.app import app
from crm_tui.config import resolve_actor
from crm_tui.store import Store
from tests import test_pg_security
from tests.conftest import PG_ENV
from tests.test_pg_security import Cluster

cluster = test_pg_security.cluster  # the fixture: four reps and A's private customer

pytestmark = pytest.mark.skipif(
    not __import__("os").environ.get(PG_ENV), reason=f"needs PostgreSQL ({PG_ENV})"
)

runner = CliRunner()


def _pair(store: Store, n: int) -> tuple[int, int]:
    """Two customers of the store's rep: KEEP, and OTHER with a contact, a follow-up, an open
    deal, a tag and an edit (history), and fields KEEP lacks or has otherwise."""
    rep = resolve_actor(store)
    keep = store.add_customer(rep, {"name": f"Keep Trading {n}", "phone": f"1381111000{n}",
                                    "region": "north"}).id
    other = store.add_customer(rep, {"name": f"Other Trading {n}", "email": f"o{n}@example.com",
                                     "region": "south"}).id
    store.add_contact(rep, other, {"name": "李雷", "phone": f"1390000000{n}"})
    store.log_follow_up(rep, other, "called them")
    store.add_deal(rep, other, "Licences", "1000", stage="proposal")
    store.set_tags(rep, other, ["vip"])
    store.update_customer(rep, other, {"notes": "budget approved"})
    return keep, other


def _state(c: Cluster, ids: tuple[int, ...]) -> dict[str, Any]:
    """What the owner of the tables sees of these customers and everything hanging on them."""
    import psycopg

    queries = {
        "customers": "SELECT id, owner_id, name, email, region, notes, extra::text, version "
                     "FROM customer WHERE id = ANY(%s) ORDER BY id",
        "contacts": "SELECT id, customer_id, is_primary FROM contact "
                    "WHERE customer_id = ANY(%s) ORDER BY id",
        "follow_ups": "SELECT id, customer_id FROM follow_up WHERE customer_id = ANY(%s) ORDER BY id",
        "deals": "SELECT id, customer_id, owner_id FROM deal WHERE customer_id = ANY(%s) ORDER BY id",
        "tags": "SELECT customer_id, tag_id FROM customer_tag WHERE customer_id = ANY(%s) "
                "ORDER BY 1, 2",
        "ownership": "SELECT id, customer_id FROM ownership_event WHERE customer_id = ANY(%s) "
                     "ORDER BY id",
        "audit": "SELECT id, entity_id FROM audit_event WHERE entity = 'customer' "
                 "AND entity_id = ANY(%s) ORDER BY id",
        "merged": "SELECT id, merged_into FROM merged_customer WHERE id = ANY(%s) "
                  "OR merged_into = ANY(%s) ORDER BY id",
    }
    with psycopg.connect(c.url) as conn:
        return {name: conn.execute(sql, (list(ids),) * sql.count("%s")).fetchall()
                for name, sql in queries.items()}


def test_a_rep_merges_her_own_customers_through_her_role(cluster: Cluster):
    c = cluster
    alice_store = c.store_of(c.alice)
    try:
        keep, other = _pair(alice_store, 1)
    finally:
        alice_store.close()
    before = _state(c, (keep, other))
    assert len(before["audit"]) >= 2 and any(r[1] == other for r in before["ownership"])
    url = c.url_of(c.alice)
    result = runner.invoke(app, ["--db", url, "merge", str(keep), str(other)])
    assert result.exit_code == 0, result.stderr
    assert f"#{other}" in result.stdout
    after = _state(c, (keep, other))
    assert [row[0] for row in after["customers"]] == [keep]
    kept = after["customers"][0]
    assert kept[3] == "o1@example.com"  # filled from OTHER
    assert "south" in kept[6]  # OTHER's region, kept apart under extra
    assert [row[1] for row in after["contacts"]] == [keep]
    assert [row[1] for row in after["follow_ups"]] == [keep]
    assert [(row[1], row[2]) for row in after["deals"]] == [(keep, c.alice_id)]
    assert {row[0] for row in after["tags"]} == {keep}
    assert {row[1] for row in after["ownership"]} == {keep}
    assert len(after["ownership"]) == len(before["ownership"])
    assert {row[1] for row in after["audit"]} == {keep}
    assert len(after["audit"]) > len(before["audit"])  # the merge's own rows
    assert after["merged"] == [(other, keep)]
    shown = runner.invoke(app, ["--db", url, "show", str(other)])
    assert shown.exit_code == 4
    assert "merged into" in shown.stderr and f"#{keep}" in shown.stderr
    portrait = runner.invoke(app, ["--db", url, "show", str(keep), "--history"])
    assert portrait.exit_code == 0 and "李雷" in portrait.stdout


def test_a_rep_cannot_merge_a_colleagues_customers(cluster: Cluster):
    import psycopg
    from psycopg import errors

    c = cluster
    alice_store, bob_store = c.store_of(c.alice), c.store_of(c.bob)
    try:
        keep, other = _pair(alice_store, 2)
        bob = resolve_actor(bob_store)
        bobs = bob_store.add_customer(bob, {"name": "Bob Own Ltd"}).id
    finally:
        alice_store.close()
        bob_store.close()
    ids = (keep, other, bobs, c.secret)
    before = _state(c, ids)
    bob_url = c.url_of(c.bob)
    for args in ([str(keep), str(other)], [str(bobs), str(other)], [str(keep), str(bobs)]):
        result = runner.invoke(app, ["--db", bob_url, "merge", *args])
        assert result.exit_code in (3, 4), (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
    assert _state(c, ids) == before
    with psycopg.connect(bob_url, autocommit=True) as bob_sql:
        for keep_id, others in ((keep, [other]), (bobs, [other]), (bobs, [c.secret]),
                                (keep, [bobs]), (bobs, [other, bobs])):
            with pytest.raises((errors.InsufficientPrivilege, errors.InvalidParameterValue)):
                bob_sql.execute("SELECT crm_merge(%s, %s::integer[])", (keep_id, others))
        # Refused before anything moved, not only at the end: his own half stays his.
        assert bob_sql.execute("SELECT count(*) FROM customer WHERE id = %s",
                               (bobs,)).fetchone() == (1,)
    assert _state(c, ids) == before
    with (psycopg.connect(c.url_of(c.carol), autocommit=True) as carol_sql,
          pytest.raises(errors.InsufficientPrivilege)):
        carol_sql.execute("SELECT crm_merge(%s, %s::integer[])", (keep, [other]))
    assert _state(c, ids) == before


def test_the_function_and_the_store_merge_alike(cluster: Cluster):
    """The same pair merged through A's role (``crm_merge``) and by the owner of the tables
    (the store's own statements) moves, fills and keeps apart the same."""
    c = cluster
    alice_store, owner_store = c.store_of(c.alice), Store(c.url)
    try:
        alice = resolve_actor(alice_store)
        admin = resolve_actor(owner_store)
        first = _pair(alice_store, 3)
        second = _pair(alice_store, 4)
        through_role = alice_store.merge_customers(alice, first[0], [first[1]])
        by_owner = owner_store.merge_customers(admin, second[0], [second[1]])
    finally:
        alice_store.close()
        owner_store.close()
    assert through_role.moved == by_owner.moved
    assert set(through_role.moved) == {"contacts", "follow_ups", "deals", "tags",
                                       "ownership_events", "audit_events"}
    assert through_role.moved["contacts"] == through_role.moved["deals"] == 1
    assert through_role.filled == {"email": "o3@example.com", "notes": "budget approved"}
    assert by_owner.filled == {"email": "o4@example.com", "notes": "budget approved"}
    assert list(through_role.kept_apart.values()) == [
        {**apart, "name": "Other Trading 3"} for apart in by_owner.kept_apart.values()]
    counts = {name: len(rows) for name, rows in _state(c, first).items()}
    assert counts == {name: len(rows) for name, rows in _state(c, second).items()}


def test_db_upgrade_installs_crm_merge_where_an_older_crm_init_did_not(cluster: Cluster):
    """A database secured by an older crm (no ``crm_merge``, older rules: another mark) gets the
    function from ``crm db upgrade``, and A's merge through her role works after it."""
    import psycopg

    c = cluster
    with psycopg.connect(c.url, autocommit=True) as conn:
        conn.execute("DROP FUNCTION crm_merge(integer, integer[], timestamptz)")
        conn.execute("COMMENT ON FUNCTION crm_rep_id() IS 'crm-tui security old'")
    upgraded = runner.invoke(app, ["--db", c.url, "db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.stderr
    alice_store = c.store_of(c.alice)
    try:
        keep, other = _pair(alice_store, 5)
        merged = alice_store.merge_customers(resolve_actor(alice_store), keep, [other])
    finally:
        alice_store.close()
    assert merged.merged_ids == [other] and merged.moved["follow_ups"] == 1
    assert _state(c, (keep, other))["merged"] == [(other, keep)]


def test_a_manager_merges_her_teams_customers_through_her_role(cluster: Cluster):
    c = cluster
    alice_store, maria_store = c.store_of(c.alice), c.store_of(c.maria)
    try:
        keep, other = _pair(alice_store, 6)
        merged = maria_store.merge_customers(resolve_actor(maria_store), keep, [other])
    finally:
        alice_store.close()
        maria_store.close()
    assert merged.merged_ids == [other] and merged.moved["deals"] == 1
    after = _state(c, (keep, other))
    assert [row[0] for row in after["customers"]] == [keep]
    assert [(row[1], row[2]) for row in after["deals"]] == [(keep, c.alice_id)]
