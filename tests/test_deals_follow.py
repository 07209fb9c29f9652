"""Open deals follow their customer on every move; won and lost deals keep their owner (issue 14
item 1; ``store/db/history.py``). On SQLite and PostgreSQL, and for databases made before the
rule: migration 0002 hands stranded open deals to their customer's owner."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select, update

from crm_tui.store import Store
from crm_tui.store.db.base import customer_t
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


def test_migration_hands_stranded_open_deals_to_the_customers_owner(store, admin, alice, bob):
    """A database made before the rule: an open deal left with a rep who no longer owns its
    customer (recycled, then claimed by another), one left with the rep in the open sea, and a
    recycle blamed on whoever ran it. Upgrading fixes the deals and the history."""
    claimed, open_claimed, won_claimed, _ = owned_with_deals(store, alice, "Claimed since")
    pooled, open_pooled, *_ = owned_with_deals(store, alice, "In the open sea")
    _, open_kept, *_ = owned_with_deals(store, bob, "Never moved")
    with store.engine.begin() as conn:
        # The old behaviour: the customers moved, their deals stayed with alice.
        conn.execute(update(customer_t).where(customer_t.c.id == claimed.id).values(owner_id=bob.id))
        conn.execute(update(customer_t).where(customer_t.c.id == pooled.id).values(owner_id=None))
        conn.execute(ownership_t.insert().values(
            customer_id=pooled.id, kind="recycled", actor_id=admin.id, from_rep_id=alice.id,
            to_rep_id=None, reason="recycled: no follow-up for 30 days (rule recycle_after_days)",
            at=store.clock.now(),
        ))
        conn.execute(update(_alembic_version()).values(version_num=_before_the_rule()))
    store.close()
    assert deal_owners_at(store.url, open_claimed, won_claimed, open_pooled, open_kept) == [
        alice.id, alice.id, alice.id, bob.id]

    assert schema.upgrade(store.url).up_to_date

    assert deal_owners_at(store.url, open_claimed, won_claimed, open_pooled, open_kept) == [
        bob.id, alice.id, None, bob.id]
    reopened = Store(store.url, clock=store.clock)
    try:
        with reopened.read() as conn:
            actors = conn.execute(
                select(ownership_t.c.actor_id).where(ownership_t.c.kind == "recycled")
            ).scalars().all()
        assert actors == [None]
        assert negotiation(reopened, bob) == (2, Decimal("2000.00"))
    finally:
        reopened.close()


def _before_the_rule():
    """The revision before the data migration that makes deals follow their customer."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(schema._config())
    return next(rev.down_revision for rev in script.walk_revisions()
                if (rev.path or "").endswith("_deals_follow_customers.py"))


def _alembic_version():
    from sqlalchemy import column, table

    return table("alembic_version", column("version_num"))


def deal_owners_at(url, *deal_ids):
    from crm_tui.store.db.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            owners = dict(conn.execute(
                select(deal_t.c.id, deal_t.c.owner_id).where(deal_t.c.id.in_(deal_ids))
            ).all())
    finally:
        engine.dispose()
    return [owners[deal_id] for deal_id in deal_ids]
