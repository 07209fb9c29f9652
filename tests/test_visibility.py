"""DESIGN §5: one visibility rule behind every read, on SQLite and PostgreSQL alike.

A rep sees their own private sea and the open sea; a manager also the private seas of their
team; an admin everything. The duplicate check is the one exception, and says only who owns
the match. Identity never comes from an environment variable; ``--as`` is for admins, audited.

On PostgreSQL these tests connect as the superuser, so they prove the store's own rule;
``test_pg_security.py`` proves the database's policies with real roles.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from crm_tui import config
from crm_tui.store import (
    Actor,
    AlreadyExists,
    NotFound,
    PermissionDenied,
    RuleRefused,
    Store,
)
from crm_tui.store.db.base import audit_t
from crm_tui.store.search.listing import ListQuery

SECRET_NAME = "Alice Secret Trading"
SECRET_PHONE = "+8613800138000"
SECRET_EMAIL = "ceo@alice-secret.example"


@dataclass
class World:
    alice: Actor  # rep, team east
    bob: Actor  # rep, team east
    carol: Actor  # rep, team west
    manager: Actor  # manager, team east
    secret: int  # alice's private customer, with a contact, a follow-up and a deal
    pool: int  # in the open sea
    bobs: int  # bob's private customer
    carols: int  # carol's private customer


@pytest.fixture
def world(store: Store, make_rep) -> World:
    alice = make_rep("alice", team="east")
    bob = make_rep("bob", team="east")
    carol = make_rep("carol", team="west")
    manager = make_rep("maria", role="manager", team="east")
    secret = store.add_customer(alice, {"name": SECRET_NAME, "phone": "138 0013 8000",
                                        "email": SECRET_EMAIL, "company": "秘密科技"}).id
    store.add_contact(alice, secret, {"name": "张伟", "phone": "13900139000"})
    store.log_follow_up(alice, secret, "quoted 40k, call back Friday", next_at="+3d")
    store.add_deal(alice, secret, "Licences", "40000", stage="proposal")
    pool = store.add_customer(alice, {"name": "Open Sea Works"}, pool=True).id
    bobs = store.add_customer(bob, {"name": "Bob Own Ltd"}).id
    carols = store.add_customer(carol, {"name": "Carol West Ltd"}).id
    return World(alice, bob, carol, manager, secret, pool, bobs, carols)


def ids(records) -> set[int]:
    return {record.id for record in records}


def test_a_rep_sees_own_and_open_sea_only(store: Store, world: World):
    assert ids(store.find(world.bob, "")) == {world.bobs, world.pool}
    assert ids(store.find(world.bob, "", scope="mine")) == {world.bobs}
    assert ids(store.find(world.bob, "", scope="pool")) == {world.pool}
    for query in ("Alice Secret", "secret", "13800138000", "8000", "秘密", "mimi", "zw", "ceo"):
        assert store.find(world.bob, query) == [], query
    assert store.search_ids(world.bob, "Alice Secret") == []


def test_a_rep_cannot_open_log_on_or_change_a_colleagues_customer(store: Store, world: World):
    bob, secret = world.bob, world.secret
    attempts = [
        lambda: store.get_customer(secret, bob),
        lambda: store.portrait(bob, secret, history=True),
        lambda: store.resolve_customer(bob, str(secret)),
        lambda: store.resolve_customer(bob, SECRET_NAME),
        lambda: store.log_follow_up(bob, secret, "poaching"),
        lambda: store.add_deal(bob, secret, "Poached", "1"),
        lambda: store.add_contact(bob, secret, {"name": "Spy"}),
        lambda: store.update_customer(bob, secret, {"notes": "mine now"}),
        lambda: store.set_tags(bob, secret, ["mine"]),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound) as refused:
            attempt()
        message = str(refused.value)  # may echo what bob typed, nothing of alice's
        assert "秘密" not in message and "8000" not in message and SECRET_EMAIL not in message
    # Nothing was written on the way.
    portrait = store.portrait(world.alice, secret)
    assert [f.summary for f in portrait.follow_ups] == ["quoted 40k, call back Friday"]
    assert [d.title for d in portrait.deals] == ["Licences"]
    assert portrait.customer.notes is None and portrait.customer.tags == []


def test_claim_by_id_of_a_colleagues_customer_says_who_and_nothing_else(store: Store, world: World):
    with pytest.raises((RuleRefused, NotFound)) as refused:
        store.claim(world.secret, world.bob)
    message = str(refused.value)
    assert SECRET_NAME not in message and "8000" not in message and "秘密" not in message
    assert store.get_customer(world.secret, world.alice).owner == "alice"


def test_listing_follow_up_log_due_pool_and_export_are_filtered(store: Store, world: World):
    bob = world.bob
    everything = ListQuery(scope="all")
    assert store.count_customers(bob, everything) == 2
    assert ids(store.customer_page(bob, everything, 0, 100)) == {world.bobs, world.pool}
    assert store.count_customers(bob, everything.with_(text="secret")) == 0
    assert store.follow_up_log(bob) == []
    assert store.follow_up_log(bob, customer_id=world.secret) == []
    assert world.secret not in {item.customer_id for item in store.due(bob, days=30)}
    assert world.secret in {item.customer_id for item in store.due(world.alice, days=30)}
    assert {entry.customer.id for entry in store.pool(bob, "")} == {world.pool}

    stream = io.StringIO()
    store.export_customers(bob, None, fmt="json", stream=stream)
    exported = stream.getvalue()
    assert SECRET_NAME not in exported and "13800138000" not in exported
    assert {row["id"] for row in json.loads(exported)} == {world.bobs, world.pool}


def test_the_dashboard_counts_only_what_the_actor_may_see(store: Store, world: World):
    board = store.dashboard(world.bob)
    assert {line.login for line in board.reps} == {"bob"}
    assert board.totals.owned == 1
    team = store.dashboard(world.manager)
    assert {line.login for line in team.reps} >= {"alice", "bob"}
    assert "carol" not in {line.login for line in team.reps}


def test_a_manager_sees_the_team_and_an_admin_everything(store: Store, world: World, admin: Actor):
    team = ids(store.find(world.manager, ""))
    assert team == {world.secret, world.pool, world.bobs}
    assert store.portrait(world.manager, world.secret).customer.name == SECRET_NAME
    with pytest.raises(NotFound):
        store.get_customer(world.carols, world.manager)
    assert ids(store.find(admin, "")) == {world.secret, world.pool, world.bobs, world.carols}
    assert ids(store.find(world.carol, "")) == {world.carols, world.pool}


def test_the_duplicate_check_names_the_owner_and_nothing_more(store: Store, world: World):
    bob = world.bob
    for fields in ({"name": "Someone Else", "phone": "+86 138 0013 8000"},
                   {"name": "Other", "email": SECRET_EMAIL.upper()},
                   {"name": "alice  secret-trading"}):
        for force in (False, True):
            with pytest.raises(AlreadyExists) as refused:
                store.add_customer(bob, fields, force=force)
            message = str(refused.value)
            assert "already exists" in message and "Alice (alice)" in message
            assert str(world.secret) not in message.replace("(alice)", "")
            assert SECRET_NAME not in message and "13800138000" not in message
            assert refused.value.customer_id is None and refused.value.owner_login == "alice"
    assert ids(store.find(bob, "", scope="mine")) == {world.bobs}


def test_an_admin_may_force_a_look_alike(store: Store, world: World, admin: Actor):
    forced = store.add_customer(admin, {"name": SECRET_NAME}, force=True)
    assert forced.owner == admin.login


def test_identity_ignores_every_environment_variable(store: Store, world: World, monkeypatch):
    expected = store.database_user() or config.os_login()
    for variable in ("USER", "LOGNAME", "CRM_USER", "USERNAME", "PGUSER"):
        monkeypatch.setenv(variable, "alice")
    assert config.acting_login(store) == expected != "alice"


def test_as_is_for_admins_only_and_audited(store: Store, world: World, admin: Actor):
    with pytest.raises(PermissionDenied):
        store.impersonate(world.bob, "alice")
    with pytest.raises(PermissionDenied):
        store.impersonate(world.manager, "alice")
    acting = store.impersonate(admin, "bob")
    assert acting.login == "bob"
    assert ids(store.find(acting, "")) == {world.bobs, world.pool}
    with store.read() as conn:
        rows = conn.execute(
            select(audit_t.c.actor_id, audit_t.c.old, audit_t.c.new)
            .where(audit_t.c.action == "act_as")
        ).all()
    assert [(row.actor_id, row.old, row.new) for row in rows] == [(admin.id, admin.login, "bob")]


def test_every_change_is_audited_and_shown_in_the_history(store: Store, world: World):
    alice, secret = world.alice, world.secret
    store.update_customer(alice, secret, {"region": "华东", "notes": "[bold]VIP[/bold]"})
    history = store.portrait(alice, secret, history=True).audit
    changes = {(a.field, a.old, a.new) for a in history if a.action == "update"}
    assert ("region", None, "华东") in changes
    assert ("notes", None, "[bold]VIP[/bold]") in changes
    assert all(a.actor == "alice" for a in history)
    assert store.portrait(alice, secret).audit == []  # only with --history
