"""Open deals follow their customer on every move; won and lost deals keep their owner (issue 14
item 1; ``store/db/history.py``). On SQLite and PostgreSQL, and for databases made before the
rule: migration 0002 hands stranded open deals to their customer's owner."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from alembic import command
from sqlalchemy import select, update

from crm_tui.store import Store
from crm_tui.store.db.base import customer_t, rep_t
from crm_tui.store.db.engine import make_engine
from crm_tui.store.schema import migrate as schema
from crm_tui.store.schema.tables import deal as deal_t
from crm_tui.store.schema.tables import ownership_event as ownership_t


@pytest.fixture
def alice(make_rep):
    return make_rep("alice", team="east", name="Alice Wang")


@pytest.fixture
def bob(make_rep):
    return make_rep("bob", team="east", name="Bob Li")


@pytest.fixture
def manager(make_rep):
    return make_rep("mia", role="manager", team="east")


def owned_with_deals(store, owner, name="Acme"):
    """A customer of ``owner`` with an open deal (negotiation), a won and a lost one."""
    customer = store.add_customer(owner, {"name": name})
    open_deal = store.add_deal(owner, customer.id, "Renewal", "1000", stage="negotiation")
    won = store.add_deal(owner, customer.id, "First order", "500", stage="won")
    lost = store.add_deal(owner, customer.id, "Upsell", "200", stage="lost")
    return customer, open_deal.id, won.id, lost.id


def deal_owners(store, *deal_ids):
    with store.read() as conn:
        owners = dict(conn.execute(
            select(deal_t.c.id, deal_t.c.owner_id).where(deal_t.c.id.in_(deal_ids))
        ).all())
    return [owners[deal_id] for deal_id in deal_ids]


def negotiation(store, actor):
    """The ``negotiation`` stage of ``actor``'s dashboard pipeline: (count, amount)."""
    stage = next(s for s in store.dashboard(actor).pipeline if s.stage == "negotiation")
    return stage.count, stage.amount


def test_release_then_claim_hands_the_open_deal_to_the_claimer(store, alice, bob):
    customer, open_id, won_id, lost_id = owned_with_deals(store, alice)
    store.release(customer.id, alice, "no budget")
    assert deal_owners(store, open_id, won_id, lost_id) == [None, alice.id, alice.id]
    assert negotiation(store, alice) == (0, Decimal("0"))

    store.claim(customer.id, bob)
    assert deal_owners(store, open_id, won_id, lost_id) == [bob.id, alice.id, alice.id]
    assert negotiation(store, bob) == (1, Decimal("1000.00"))
    assert [d.id for d in store.list_deals(bob, scope="mine")] == [open_id]


def test_recycle_takes_open_deals_to_the_open_sea_and_the_next_claim_gets_them(
    store, alice, bob, clock
):
    customer, open_id, won_id, _ = owned_with_deals(store, alice)
    with store.engine.begin() as conn:  # the won deal would exempt it; this one is a past win
        conn.execute(update(deal_t).where(deal_t.c.id == won_id).values(stage="lost"))
    clock.advance(days=31)
    assert [item.customer_id for item in store.recycle()] == [customer.id]
    assert deal_owners(store, open_id, won_id) == [None, alice.id]
    store.claim(customer.id, bob)
    assert deal_owners(store, open_id) == [bob.id]
    assert negotiation(store, bob) == (1, Decimal("1000.00"))


def test_transfer_and_deactivation_move_open_deals_only(store, admin, alice, bob, manager):
    customer, open_id, won_id, lost_id = owned_with_deals(store, alice)
    store.transfer(manager, "alice", "bob", [customer.id])
    assert deal_owners(store, open_id, won_id, lost_id) == [bob.id, alice.id, alice.id]
    assert negotiation(store, bob) == (1, Decimal("1000.00"))
    assert negotiation(store, alice) == (0, Decimal("0"))

    store.deactivate_rep(admin, "bob", to_pool=True)
    assert deal_owners(store, open_id, won_id, lost_id) == [None, alice.id, alice.id]


def test_deactivating_to_a_colleague_moves_the_open_deals(store, admin, alice, bob):
    customer, open_id, won_id, _ = owned_with_deals(store, alice)
    store.deactivate_rep(admin, "alice", transfer_to="bob")
    assert deal_owners(store, open_id, won_id) == [bob.id, alice.id]


def test_a_manager_sees_the_team_pipeline_after_a_move(store, alice, bob, manager):
    """The issue's #608: recycled from one rep, claimed by another, and the team pipeline
    showed 0 in every stage."""
    customer, *_ = owned_with_deals(store, alice)
    store.release(customer.id, alice, "no budget")
    assert negotiation(store, manager) == (0, Decimal("0"))
    store.claim(customer.id, bob)
    assert negotiation(store, manager) == (1, Decimal("1000.00"))


def test_a_lost_claim_race_moves_no_deal(store, alice, bob):
    customer, open_id, *_ = owned_with_deals(store, alice)
    store.release(customer.id, alice, "no budget")
    store.claim(customer.id, bob)
    with pytest.raises(Exception, match="already claimed"):
        store.claim(customer.id, alice)
    assert deal_owners(store, open_id) == [bob.id]


# --- the data migration ---------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def before_the_rule(request, tmp_path) -> Iterator[str]:
    """An empty database migrated only up to the revision before the rule."""
    if request.param == "sqlite":
        url = str(tmp_path / "old.db")
        drop = None
    else:
        request.getfixturevalue("pg_template")  # skips (or fails under CI) as the others do
        from tests.conftest import fresh_pg_database

        url, drop = fresh_pg_database("template0")
    engine = make_engine(url, create=True)
    try:
        with engine.connect() as conn:
            command.upgrade(schema._config(conn), _revision_before_the_rule())
            conn.commit()
    finally:
        engine.dispose()
    yield url
    if drop is not None:
        drop()


def test_migration_hands_stranded_open_deals_to_the_customers_owner(before_the_rule, clock):
    """A database made before the rule: an open deal left with a rep who no longer owns its
    customer (recycled, then claimed by another), one left with the rep while its customer is
    in the open sea, and a recycle blamed on whoever ran it. Upgrading fixes the deals and the
    history; won deals and deals already with their customer's owner are left alone."""
    url, now = before_the_rule, clock.now()
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            def rep(login):
                return conn.execute(rep_t.insert().values(
                    login=login, name=login.title(), role="rep", active=True, created_at=now,
                ).returning(rep_t.c.id)).scalar_one()

            def customer(name, owner):
                return conn.execute(customer_t.insert().values(
                    name=name, kind="company", status="intent", locked=False, owner_id=owner,
                    created_at=now, updated_at=now,
                ).returning(customer_t.c.id)).scalar_one()

            def deal(customer_id, owner, stage):
                return conn.execute(deal_t.insert().values(
                    customer_id=customer_id, owner_id=owner, title=stage, amount=Decimal("1000"),
                    stage=stage, created_at=now, updated_at=now,
                ).returning(deal_t.c.id)).scalar_one()

            boss, alice, bob = rep("boss"), rep("alice"), rep("bob")
            conn.execute(update(rep_t).where(rep_t.c.id == boss).values(role="admin"))
            claimed, pooled, kept = customer("Claimed since", bob), customer("Pooled", None), \
                customer("Never moved", bob)
            deals = [deal(claimed, alice, "negotiation"), deal(claimed, alice, "won"),
                     deal(pooled, alice, "proposal"), deal(pooled, alice, "lost"),
                     deal(kept, bob, "qualified")]
            conn.execute(ownership_t.insert().values(
                customer_id=pooled, kind="recycled", actor_id=boss, from_rep_id=alice,
                to_rep_id=None, at=now,
                reason="recycled: no follow-up for 30 days (rule recycle_after_days)",
            ))
    finally:
        engine.dispose()

    assert schema.upgrade(url).up_to_date

    assert deal_owners_at(url, *deals) == [bob, alice, None, alice, bob]
    store = Store(url, clock=clock)
    try:
        with store.read() as conn:
            actors = conn.execute(
                select(ownership_t.c.actor_id).where(ownership_t.c.kind == "recycled")
            ).scalars().all()
        assert actors == [None]
        assert negotiation(store, store.actor("bob")) == (1, Decimal("1000.00"))
        assert negotiation(store, store.actor("alice")) == (0, Decimal("0"))
    finally:
        store.close()


def _revision_before_the_rule() -> str:
    """The revision before the data migration that makes deals follow their customer."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(schema._config())
    return next(str(rev.down_revision) for rev in script.walk_revisions()
                if (rev.path or "").endswith("_deals_follow_customers.py"))


def deal_owners_at(url, *deal_ids):
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            owners = dict(conn.execute(
                select(deal_t.c.id, deal_t.c.owner_id).where(deal_t.c.id.in_(deal_ids))
            ).all())
    finally:
        engine.dispose()
    return [owners[deal_id] for deal_id in deal_ids]
