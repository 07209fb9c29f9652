"""Store basics on both backends: create, duplicate check, follow-ups, deals, portrait, search."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm_tui.store import AlreadyExists, NotFound, PermissionDenied, ValidationError


def test_add_normalises_phone_and_email(store, admin):
    created = store.add_customer(admin, {"name": "张伟", "phone": "138 0013 8000", "email": "Zhang@Example.COM"})
    assert created.phone == "+8613800138000"
    assert created.email == "zhang@example.com"
    assert created.owner == "boss"


def test_same_number_in_other_format_is_a_duplicate(store, admin):
    store.add_customer(admin, {"name": "张伟", "phone": "138 0013 8000"})
    with pytest.raises(AlreadyExists, match="owned by you"):
        store.add_customer(admin, {"name": "Someone else", "phone": "+86 13800138000"})


def test_duplicate_of_another_reps_customer_names_owner_and_refuses_force(store, make_rep):
    alice = make_rep("alice")
    bob = make_rep("bob")
    store.add_customer(alice, {"name": "Acme Ltd", "email": "info@acme.com"})
    with pytest.raises(AlreadyExists) as caught:
        store.add_customer(bob, {"name": "ACME ltd"}, force=True)
    assert "alice" in str(caught.value)
    assert "info@acme.com" not in str(caught.value)


def test_force_adds_look_alike_of_pool_customer(store, make_rep):
    alice = make_rep("alice")
    store.add_customer(alice, {"name": "Acme"}, pool=True)
    with pytest.raises(AlreadyExists, match="open sea"):
        store.add_customer(alice, {"name": "Acme"})
    assert store.add_customer(alice, {"name": "Acme"}, force=True).owner == "alice"


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", ""), ("phone", "12"), ("email", "not-an-email"), ("status", "hot"), ("name", "x" * 201)],
)
def test_bad_field_is_named_and_nothing_written(store, admin, field, value):
    fields = {"name": "Valid", field: value}
    with pytest.raises(ValidationError) as caught:
        store.add_customer(admin, fields)
    assert caught.value.field == field
    assert store.customer_count() == 0


def test_log_follow_up_moves_dates_and_due(store, admin, clock):
    customer = store.add_customer(admin, {"name": "李娜"})
    store.log_follow_up(admin, customer.id, "called, wants a quote", next_at="2026-06-15")
    portrait = store.portrait(admin, customer.id)
    assert portrait.customer.next_follow_up_at.isoformat() == "2026-06-15"
    assert portrait.follow_ups[0].summary == "called, wants a quote"
    due = store.due(admin)
    assert [(d.customer_id, d.reason) for d in due if d.reason != "recycle"] == [(customer.id, "due")]
    clock.advance(days=2)
    overdue = [d for d in store.due(admin) if d.reason == "overdue"]
    assert overdue[0].days == 2


def test_follow_up_needs_summary(store, admin):
    customer = store.add_customer(admin, {"name": "Kim"})
    with pytest.raises(ValidationError) as caught:
        store.log_follow_up(admin, customer.id, "   ")
    assert caught.value.field == "summary"


def test_deals_feed_value(store, admin):
    customer = store.add_customer(admin, {"name": "Acme"})
    store.add_deal(admin, customer.id, "licences", "1000", stage="won")
    deal = store.add_deal(admin, customer.id, "support", "2000", stage="proposal")
    value = store.portrait(admin, customer.id).value
    assert value.established == Decimal("1000.00")
    assert value.potential == Decimal("1000.00")
    moved = store.move_deal(admin, deal.id, "negotiation")
    assert moved.stage == "negotiation"
    assert store.portrait(admin, customer.id).value.potential == Decimal("1500.00")


def test_rep_cannot_see_another_reps_private_customer(store, make_rep):
    alice = make_rep("alice")
    bob = make_rep("bob")
    secret = store.add_customer(alice, {"name": "Alice's secret"})
    with pytest.raises(NotFound):
        store.portrait(bob, secret.id)
    assert store.find(bob, "secret") == []
    with pytest.raises(NotFound):
        store.log_follow_up(bob, secret.id, "poach")


def test_manager_sees_team_not_others(store, make_rep):
    boss = make_rep("mgr", role="manager", team="east")
    east = make_rep("east1", team="east")
    west = make_rep("west1", team="west")
    a = store.add_customer(east, {"name": "East Co"})
    b = store.add_customer(west, {"name": "West Co"})
    names = {c.name for c in store.find(boss, "")}
    assert "East Co" in names and "West Co" not in names
    store.log_follow_up(boss, a.id, "helped my rep")
    with pytest.raises(NotFound):
        store.portrait(boss, b.id)


def test_pool_customer_cannot_be_logged_before_claim(store, admin):
    pooled = store.add_customer(admin, {"name": "Pool Co"}, pool=True)
    with pytest.raises(PermissionDenied):
        store.log_follow_up(admin, pooled.id, "hello")


@pytest.mark.parametrize("query", ["张伟", "张", "zw", "zhangwei", "zhang", "0013", "13800138000", "华为", "hw"])
def test_search_finds_chinese_name_by_every_key(store, admin, query):
    store.add_customer(admin, {"name": "张伟", "phone": "13800138000", "company": "华为"})
    store.add_customer(admin, {"name": "Other Person"})
    assert [c.name for c in store.find(admin, query)] == ["张伟"]


def test_search_by_contact_and_surname_reading(store, admin):
    customer = store.add_customer(admin, {"name": "曾小贤"})
    store.add_contact(admin, customer.id, {"name": "Mary Smith", "phone": "+1 415 555 2671"})
    assert [c.id for c in store.find(admin, "zeng")] == [customer.id]
    assert [c.id for c in store.find(admin, "ceng")] == [customer.id]
    assert [c.id for c in store.find(admin, "mary")] == [customer.id]
    assert [c.id for c in store.find(admin, "5552671")] == [customer.id]


def test_search_input_is_data(store, admin):
    store.add_customer(admin, {"name": "O'Brien \"Ltd\""})
    for query in ['"', "'", "NEAR(", "a OR b", "*", ":*", "&|!", "'; DROP TABLE customer; --"]:
        store.find(admin, query)
    assert [c.name for c in store.find(admin, "o'brien")] == ["O'Brien \"Ltd\""]


def test_optimistic_lock_conflict_names_who(store, make_rep):
    alice = make_rep("alice", name="Alice Wong")
    customer = store.add_customer(alice, {"name": "Acme"})
    store.update_customer(alice, customer.id, {"industry": "steel"}, expected_version=customer.version)
    from crm_tui.store import Conflict

    with pytest.raises(Conflict, match="Alice Wong"):
        store.update_customer(alice, customer.id, {"industry": "tin"}, expected_version=customer.version)
    assert store.get_customer(customer.id, alice).industry == "steel"


def test_an_edit_with_tags_is_one_change(store, admin):
    """Fields and tags saved together: one new version, the tags replaced, both in the history."""
    customer = store.add_customer(admin, {"name": "Acme"}, tags=["old", "keep"])
    edited = store.update_customer(admin, customer.id, {"industry": "steel"},
                                   expected_version=customer.version, tags="keep, 新客户")
    assert edited.version == customer.version + 1
    assert sorted(edited.tags) == sorted(["keep", "新客户"])
    history = store.portrait(admin, customer.id, history=True).audit
    changes = {(a.field, a.old, a.new) for a in history if a.action == "update"}
    assert ("industry", None, "steel") in changes
    assert {field for field, _old, _new in changes} == {"industry", "tags"}
    unchanged = store.update_customer(admin, customer.id, {}, tags=["新客户", "keep"])
    assert unchanged.version == edited.version  # the same set: nothing to save


def test_a_refused_edit_leaves_the_tags_unchanged(store, admin):
    from crm_tui.store import Conflict

    customer = store.add_customer(admin, {"name": "Acme"}, tags=["old"])
    with pytest.raises(ValidationError):
        store.update_customer(admin, customer.id, {"email": "not an address"}, tags="new")
    with pytest.raises(ValidationError):
        store.update_customer(admin, customer.id, {"industry": "tin"}, tags="x" * 500)
    store.update_customer(admin, customer.id, {"industry": "steel"})
    with pytest.raises(Conflict):
        store.update_customer(admin, customer.id, {}, expected_version=customer.version, tags="new")
    after = store.get_customer(customer.id, admin)
    assert after.tags == ["old"] and after.industry == "steel"
    assert after.version == customer.version + 1
