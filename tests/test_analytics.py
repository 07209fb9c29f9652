"""Customer value on both backends: established/potential value, RFM, completeness, A/B/C tiers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from crm_tui.store.analytics import value as analytics
from crm_tui.store.analytics.value import completeness, rfm_scores, rfm_segment
from tests.test_pg_security import cluster  # noqa: F401 - the PostgreSQL roles fixture

NOW = datetime(2026, 6, 15, 9, 30, tzinfo=UTC)


def add_customer_with_won(store, actor, name: str, *amounts: str) -> int:
    customer = store.add_customer(actor, {"name": name})
    for number, amount in enumerate(amounts):
        store.add_deal(actor, customer.id, f"{name} order {number}", amount, stage="won")
    return customer.id


# --- pure functions ---------------------------------------------------------------------------


def test_rfm_segments_from_recency_frequency_and_tier():
    assert rfm_segment(0, None, NOW) == "prospect"
    assert rfm_scores(0, None, NOW) is None
    recent, old = NOW - timedelta(days=10), NOW - timedelta(days=400)
    assert rfm_scores(5, recent, NOW, "A") == (3, 3, 3)
    assert rfm_segment(5, recent, NOW, "A") == "champion"
    assert rfm_segment(1, recent, NOW, "C") == "new"
    assert rfm_segment(2, NOW - timedelta(days=200), NOW, "C") == "loyal"
    assert rfm_segment(1, NOW - timedelta(days=200), NOW, "C") == "promising"
    assert rfm_segment(3, old, NOW, "C") == "at risk"
    assert rfm_segment(1, old, NOW, "A") == "at risk"
    assert rfm_segment(1, old, NOW, "C") == "dormant"


def test_completeness_names_the_missing_fields():
    class Row:
        kind, company, industry, region, address = "person", None, "IT", None, "1 Road"
        phone, email, source, next_follow_up_at = "+8613800138000", None, "web", None

    share, missing = completeness(Row, contact_count=0)
    assert missing == ["company", "region", "email", "contact", "next follow-up"]
    assert share == pytest.approx(round(4 / 9, 2))
    assert completeness(Row, 1)[1] == ["company", "region", "email", "next follow-up"]


# --- value in the store -----------------------------------------------------------------------


def test_value_sums_won_deals_and_weights_open_ones(store, admin):
    customer = store.add_customer(admin, {"name": "张伟", "company": "华为"})
    before = store.portrait(admin, customer.id).value
    assert (before.established, before.potential, before.rfm_segment) == (Decimal("0.00"), Decimal("0.00"), "prospect")
    store.add_deal(admin, customer.id, "servers", "1000.50", stage="won")
    store.add_deal(admin, customer.id, "support", "2000", stage="proposal")      # 50 %
    store.add_deal(admin, customer.id, "cables", "400", stage="prospecting")     # 10 %
    store.add_deal(admin, customer.id, "lost one", "9999", stage="lost")
    value = store.portrait(admin, customer.id).value
    assert value.established == Decimal("1000.50")
    assert value.potential == Decimal("1040.00")
    assert value.rfm_segment == "new"
    assert "contact" in value.missing


def test_customer_values_only_for_visible_customers(store, admin, make_rep):
    alice = make_rep("alice")
    bob = make_rep("bob")
    mine = add_customer_with_won(store, alice, "Alice Co", "300")
    theirs = add_customer_with_won(store, bob, "Bob Co", "500")
    values = store.customer_values(alice, [mine, theirs])
    assert list(values) == [mine]
    assert values[mine].established == Decimal("300.00")
    assert set(store.customer_values(admin, [mine, theirs])) == {mine, theirs}


# --- tiers ------------------------------------------------------------------------------------


def _tiers(store, admin, ids):
    return {name: store.get_customer(cid, admin).tier for name, cid in ids.items()}


@pytest.mark.parametrize("bulk", [False, True], ids=["row-by-row", "set-based"])
def test_refresh_tiers_pareto_80_15_5(store, admin, monkeypatch, bulk):
    if bulk:
        monkeypatch.setattr(analytics, "BULK_TIER_WRITE", 1)
    # Total revenue 1000: cumulative share before each customer 0, 50, 80, 90, 95, 98 %.
    ids = {
        "big": add_customer_with_won(store, admin, "big", "300", "200"),
        "second": add_customer_with_won(store, admin, "second", "300"),
        "third": add_customer_with_won(store, admin, "third", "100"),
        "fourth": add_customer_with_won(store, admin, "fourth", "50"),
        "fifth": add_customer_with_won(store, admin, "fifth", "30"),
        "sixth": add_customer_with_won(store, admin, "sixth", "20"),
    }
    ids["no revenue"] = store.add_customer(admin, {"name": "no revenue", "tier": "A"}).id
    lost_only = store.add_customer(admin, {"name": "lost only"})
    store.add_deal(admin, lost_only.id, "gone", "5000", stage="lost")
    ids["lost only"] = lost_only.id
    assert store.tiers_stale()
    result = store.refresh_tiers()
    assert _tiers(store, admin, ids) == {
        "big": "A", "second": "A", "third": "B", "fourth": "B", "fifth": "C", "sixth": "C",
        "no revenue": None, "lost only": None,
    }
    assert (result.a, result.b, result.c) == (2, 2, 2)
    assert result.changed == 7  # six tiers set, one hand-typed tier cleared
    assert result.bulk is bulk
    assert not store.tiers_stale()
    assert store.refresh_tiers().changed == 0


def test_a_deal_change_marks_tiers_stale_and_a_lazy_refresh_moves_them(store, admin):
    small = add_customer_with_won(store, admin, "small", "100")
    large = add_customer_with_won(store, admin, "large", "1900")
    store.refresh_tiers()
    assert store.refresh_tiers_if_stale() is None
    assert (store.get_customer(small, admin).tier, store.get_customer(large, admin).tier) == ("C", "A")
    deal = store.add_deal(admin, small, "huge order", "50000", stage="negotiation")
    assert store.tiers_stale()
    assert store.refresh_tiers_if_stale().changed == 0  # an open deal is not revenue
    store.move_deal(admin, deal.id, "won")
    assert store.tiers_stale()
    result = store.refresh_tiers_if_stale()
    assert result is not None and result.changed == 2
    assert (store.get_customer(small, admin).tier, store.get_customer(large, admin).tier) == ("A", "C")
    assert store.portrait(admin, small).value.tier == "A"


def test_refresh_does_not_move_the_version_an_edit_form_holds(store, admin):
    cid = add_customer_with_won(store, admin, "versioned", "100")
    version = store.get_customer(cid, admin).version
    store.refresh_tiers()
    assert store.get_customer(cid, admin).tier == "A"
    updated = store.update_customer(admin, cid, {"region": "北京"}, expected_version=version)
    assert updated.region == "北京"


def test_a_rep_role_on_postgresql_leaves_the_ranking_to_a_role_that_sees_everyone(cluster):  # noqa: F811
    """Row-level security would let a rep rank only their own book: their session skips it."""
    from crm_tui.store import PermissionDenied, Store

    rep_store = cluster.store_of(cluster.alice)
    try:
        assert rep_store.tiers_stale()
        assert rep_store.refresh_tiers_if_stale() is None
        with pytest.raises(PermissionDenied):
            rep_store.refresh_tiers()
    finally:
        rep_store.close()
    owner_store = Store(cluster.url)
    try:
        assert owner_store.refresh_tiers_if_stale() is not None
        assert not owner_store.tiers_stale()
    finally:
        owner_store.close()
