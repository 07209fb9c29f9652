"""Open sea and private sea rules (DESIGN §4) in the store, on SQLite and PostgreSQL.

Races between processes are in ``test_concurrency.py``; these are the rules one move at a time.
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from crm_tui.store import NotFound, PermissionDenied, RuleRefused, UsageError, ValidationError
from crm_tui.store.db.base import audit_t, customer_t, ownership_t
from crm_tui.store.sales.followups import deal_t
from crm_tui.store.sea import recycle as sea_mod
from crm_tui.store.sea.deadlines import recycle_deadline
from crm_tui.store.team import settings as rules_mod


@pytest.fixture
def alice(make_rep):
    return make_rep("alice", team="east", name="Alice Wang")


@pytest.fixture
def bob(make_rep):
    return make_rep("bob", team="east")


@pytest.fixture
def pool_customer(store, admin):
    """Add an open-sea customer: ``pool_customer("Acme", phone=...)``."""

    def add(name: str, **fields):
        return store.add_customer(admin, {"name": name, **fields}, pool=True)

    return add


def events(store, customer_id):
    with store.read() as conn:
        return [
            (row.kind, row.from_rep_id, row.to_rep_id, row.reason)
            for row in conn.execute(
                select(ownership_t).where(ownership_t.c.customer_id == customer_id)
                .order_by(ownership_t.c.id)
            )
        ]


def set_dates(store, customer_id, **values):
    with store.engine.begin() as conn:
        conn.execute(update(customer_t).where(customer_t.c.id == customer_id).values(**values))


# --- claim --------------------------------------------------------------------------------------


def test_claim_takes_customer_and_unmasks_contacts(store, alice, pool_customer, clock):
    acme = pool_customer("Acme", phone="138 0013 8000", email="info@acme.com")
    assert acme.masked and acme.phone != "+8613800138000"
    claimed = store.claim(acme.id, actor=alice)
    assert claimed.owner == "alice" and claimed.claimed_at == clock.now()
    assert claimed.pool_entered_at is None and not claimed.masked
    assert claimed.phone == "+8613800138000" and claimed.email == "info@acme.com"
    assert events(store, acme.id)[-1] == ("claimed", None, alice.id, None)


def test_claim_returns_what_a_fresh_read_shows(store, admin, alice):
    acme = store.add_customer(admin, {"name": "Acme", "company": "Acme Group"}, pool=True,
                              tags=["vip", "华东"], extra={"来源活动": "2026 展会"})
    claimed = store.claim(acme.id, alice)
    assert claimed == store.get_customer(acme.id, alice)
    assert claimed.tags == ["vip", "华东"] and claimed.owner_name == "Alice Wang"
    with store.read() as conn:
        audited = conn.execute(
            select(audit_t.c.actor_id, audit_t.c.action, audit_t.c.field, audit_t.c.old,
                   audit_t.c.new, audit_t.c.at)
            .where(audit_t.c.entity == "customer", audit_t.c.entity_id == acme.id,
                   audit_t.c.action == "claim")
        ).all()
    assert [tuple(a) for a in audited] == [(alice.id, "claim", "owner", None, "alice", claimed.claimed_at)]


def test_second_claimer_is_told_who_has_it_and_nothing_more(store, alice, bob, pool_customer):
    acme = pool_customer("Acme", phone="138 0013 8000")
    store.claim(acme.id, alice)
    with pytest.raises(RuleRefused) as caught:
        store.claim(acme.id, bob)
    assert caught.value.rule == "taken"
    assert str(caught.value) == f"Customer {acme.id} is already claimed by Alice Wang (alice)."
    with pytest.raises(RuleRefused, match="already in your private sea"):
        store.claim(acme.id, alice)
    assert [e[0] for e in events(store, acme.id)] == ["created", "claimed"]


def test_claim_of_missing_customer_is_not_found(store, alice):
    with pytest.raises(NotFound):
        store.claim(999, alice)


def test_private_cap_refuses_the_claim_past_it(store, admin, alice, pool_customer):
    store.set_rules(admin, {"private_cap": "2"})
    store.add_customer(alice, {"name": "Own one"})
    first, second = pool_customer("First"), pool_customer("Second")
    store.claim(first.id, alice)
    with pytest.raises(RuleRefused) as caught:
        store.claim(second.id, alice)
    assert caught.value.rule == "private_cap"
    assert "2 of 2" in str(caught.value) and "private_cap" in str(caught.value)
    assert store.get_customer(second.id, alice).owner is None


def test_cap_zero_means_no_cap(store, admin, alice, pool_customer):
    store.set_rules(admin, {"private_cap": "0"})
    claimed = [store.claim(pool_customer(f"C{n}").id, alice) for n in range(3)]
    assert [c.owner for c in claimed] == ["alice"] * 3


def test_daily_claim_limit_counts_per_rep_per_day(store, admin, alice, bob, pool_customer, clock):
    store.set_rules(admin, {"daily_claim_limit": "2", "reclaim_cooldown_days": "0"})
    customers = [pool_customer(f"C{n}") for n in range(4)]
    store.claim(customers[0].id, alice)
    store.release(customers[0].id, alice, "no intent")
    store.claim(customers[1].id, alice)
    with pytest.raises(RuleRefused) as caught:
        store.claim(customers[2].id, alice)  # releasing does not give a claim back
    assert caught.value.rule == "daily_claim_limit" and "2 of 2" in str(caught.value)
    store.claim(customers[2].id, bob)  # another rep's count is their own
    clock.advance(days=1)
    store.claim(customers[3].id, alice)


def test_cooldown_after_release_names_the_day_it_ends(store, alice, bob, pool_customer, clock):
    acme = pool_customer("Acme")
    store.claim(acme.id, alice)
    store.release(acme.id, alice, "no budget")
    with pytest.raises(RuleRefused) as caught:
        store.claim(acme.id, alice)
    ends = (clock.now() + timedelta(days=7)).astimezone().date().isoformat()
    assert caught.value.rule == "reclaim_cooldown_days"
    assert ends in str(caught.value) and "released by you" in str(caught.value)
    clock.advance(days=6, hours=23)
    with pytest.raises(RuleRefused):
        store.claim(acme.id, alice)
    clock.advance(hours=2)
    assert store.claim(acme.id, alice).owner == "alice"


def test_cooldown_binds_only_the_rep_who_let_it_go(store, alice, bob, pool_customer):
    acme = pool_customer("Acme")
    store.claim(acme.id, alice)
    store.release(acme.id, alice, "no budget")
    assert store.claim(acme.id, bob).owner == "bob"


def test_cooldown_after_recycle(store, admin, alice, pool_customer, clock):
    acme = pool_customer("Acme")
    store.claim(acme.id, alice)
    clock.advance(days=31)
    assert [item.customer_id for item in store.recycle(admin)] == [acme.id]
    with pytest.raises(RuleRefused, match="recycled from your private sea") as caught:
        store.claim(acme.id, alice)
    assert caught.value.rule == "reclaim_cooldown_days"


def test_manager_release_binds_the_owner_not_the_manager(store, make_rep, alice, pool_customer):
    manager = make_rep("mia", role="manager", team="east")
    acme = pool_customer("Acme")
    store.claim(acme.id, alice)
    store.release(acme.id, manager, "duplicate")
    with pytest.raises(RuleRefused, match="cooldown"):
        store.claim(acme.id, alice)
    assert store.claim(acme.id, manager).owner == "mia"


def test_inactive_rep_cannot_claim(store, admin, alice, pool_customer):
    acme = pool_customer("Acme")
    store.deactivate_rep(admin, "alice")
    with pytest.raises(RuleRefused) as caught:
        store.claim(acme.id, alice)  # an Actor obtained before the deactivation
    assert caught.value.rule == "active"


# --- release ------------------------------------------------------------------------------------


def test_release_needs_a_reason_while_the_rule_is_on(store, admin, alice, pool_customer, clock):
    acme = pool_customer("Acme")
    store.claim(acme.id, alice)
    store.log_follow_up(alice, acme.id, "called", next_at="2026-06-20")
    with pytest.raises(RuleRefused) as caught:
        store.release(acme.id, alice, "  ")
    assert caught.value.rule == "require_release_reason" and "no budget" in str(caught.value)
    released = store.release(acme.id, alice, "went to a competitor")
    assert released.owner is None and released.pool_entered_at == clock.now()
    assert released.released_by == "alice" and released.release_reason == "went to a competitor"
    assert released.next_follow_up_at is None and released.masked
    assert events(store, acme.id)[-1] == ("released", alice.id, None, "went to a competitor")
    assert store.portrait(admin, acme.id).follow_ups[0].summary == "called"  # history stays


def test_release_without_reason_when_the_rule_is_off(store, admin, alice, pool_customer):
    store.set_rules(admin, {"require_release_reason": "off"})
    acme = pool_customer("Acme")
    store.claim(acme.id, alice)
    assert store.release(acme.id, alice).release_reason is None


def test_free_text_reason_is_validated(store, alice, pool_customer):
    acme = pool_customer("Acme")
    store.claim(acme.id, alice)
    with pytest.raises(ValidationError) as caught:
        store.release(acme.id, alice, "x" * 501)
    assert caught.value.field == "reason"
    assert store.release(acme.id, alice, "他们说明年再谈").release_reason == "他们说明年再谈"


def test_who_may_release(store, admin, make_rep, alice, bob, pool_customer):
    east_manager = make_rep("mia", role="manager", team="east")
    west_manager = make_rep("wes", role="manager", team="west")
    customers = [pool_customer(f"C{n}") for n in range(3)]
    for c in customers:
        store.claim(c.id, alice)
    with pytest.raises(NotFound):
        store.release(customers[0].id, bob, "no intent")  # another rep's: not even visible
    with pytest.raises(NotFound):
        store.release(customers[0].id, west_manager, "no intent")
    assert store.release(customers[0].id, east_manager, "no intent").owner is None
    assert store.release(customers[1].id, admin, "no intent").owner is None
    with pytest.raises(RuleRefused) as caught:
        store.release(customers[0].id, alice, "no intent")
    assert caught.value.rule == "open_sea"


# --- lock ---------------------------------------------------------------------------------------


def test_lock_within_lock_cap(store, admin, alice, bob):
    store.set_rules(admin, {"lock_cap": "2"})
    mine = [store.add_customer(alice, {"name": f"Key {n}"}) for n in range(3)]
    assert store.lock(mine[0].id, alice).locked
    assert store.lock(mine[0].id, alice).locked  # locking twice is harmless
    store.lock(mine[1].id, alice)
    with pytest.raises(RuleRefused) as caught:
        store.lock(mine[2].id, alice)
    assert caught.value.rule == "lock_cap" and "2 of 2" in str(caught.value)
    store.lock(store.add_customer(bob, {"name": "Bob's key"}).id, bob)  # per rep
    assert not store.unlock(mine[0].id, alice).locked
    store.lock(mine[2].id, alice)


def test_lock_cap_zero_turns_locking_off(store, admin, alice):
    store.set_rules(admin, {"lock_cap": "0"})
    mine = store.add_customer(alice, {"name": "Key"})
    with pytest.raises(RuleRefused, match="Locking is off"):
        store.lock(mine.id, alice)


def test_lock_needs_an_owned_customer(store, alice, bob, pool_customer):
    acme = pool_customer("Acme")
    with pytest.raises(RuleRefused) as caught:
        store.lock(acme.id, alice)
    assert caught.value.rule == "open_sea"
    theirs = store.add_customer(bob, {"name": "Bob's"})
    with pytest.raises(NotFound):
        store.lock(theirs.id, alice)


def test_locked_customer_is_exempt_from_recycling_and_release_unlocks(store, admin, alice, clock):
    key = store.add_customer(alice, {"name": "Key"})
    plain = store.add_customer(alice, {"name": "Plain"})
    store.lock(key.id, alice)
    clock.advance(days=200)
    assert [item.customer_id for item in store.recycle(admin)] == [plain.id]
    released = store.release(key.id, alice, "no intent")
    assert not released.locked


# --- recycle ------------------------------------------------------------------------------------


def test_recycle_after_days_without_follow_up(store, admin, alice, clock):
    quiet = store.add_customer(alice, {"name": "Quiet"})
    busy = store.add_customer(alice, {"name": "Busy"})
    clock.advance(days=20)
    store.log_follow_up(alice, busy.id, "called")
    clock.advance(days=10)
    moved = store.recycle(admin)
    assert [(m.customer_id, m.owner, m.rule) for m in moved] == [(quiet.id, "alice", "recycle_after_days")]
    record = store.get_customer(quiet.id, admin)
    assert record.owner is None and record.pool_entered_at == clock.now()
    assert "recycle_after_days" in record.release_reason
    kind, from_id, to_id, reason = events(store, quiet.id)[-1]
    assert (kind, from_id, to_id) == ("recycled", alice.id, None) and "recycle_after_days" in reason
    assert store.get_customer(busy.id, admin).owner == "alice"
    clock.advance(days=20)
    assert [m.customer_id for m in store.recycle(admin)] == [busy.id]


def test_recycle_no_deal_days_and_won_exemption(store, admin, alice, clock):
    store.set_rules(admin, {"recycle_after_days": "0"})
    nothing = store.add_customer(alice, {"name": "Nothing won"})
    won = store.add_customer(alice, {"name": "Won"})
    store.add_deal(alice, won.id, "licences", "1000", stage="won")
    clock.advance(days=90)
    moved = store.recycle(admin)
    assert [(m.customer_id, m.rule) for m in moved] == [(nothing.id, "recycle_no_deal_days")]
    assert store.get_customer(won.id, admin).owner == "alice"


def test_won_customers_recycle_on_silence_when_not_exempt(store, admin, alice, clock):
    store.set_rules(admin, {"recycle_exempt_won": "false"})
    won = store.add_customer(alice, {"name": "Won"})
    store.add_deal(alice, won.id, "licences", "1000", stage="won")
    clock.advance(days=31)
    assert [(m.customer_id, m.rule) for m in store.recycle(admin)] == [(won.id, "recycle_after_days")]


def test_rules_at_zero_recycle_nothing(store, admin, alice, clock):
    store.set_rules(admin, {"recycle_after_days": "0", "recycle_no_deal_days": "0"})
    store.add_customer(alice, {"name": "Idle"})
    clock.advance(days=1000)
    assert store.recycle(admin) == []


def test_dry_run_lists_without_moving_and_only_what_the_caller_sees(store, admin, alice, bob, clock):
    mine = store.add_customer(alice, {"name": "Alice's"})
    theirs = store.add_customer(bob, {"name": "Bob's"})
    clock.advance(days=31)
    assert [m.customer_id for m in store.recycle(alice, dry_run=True)] == [mine.id]
    assert [m.customer_id for m in store.recycle(admin, dry_run=True)] == [mine.id, theirs.id]
    assert store.get_customer(mine.id, alice).owner == "alice"
    assert store.last_recycle_at() is None


def test_recycle_is_idempotent(store, admin, alice, clock):
    for n in range(3):
        store.add_customer(alice, {"name": f"C{n}"})
    clock.advance(days=31)
    assert len(store.recycle(None)) == 3
    assert store.recycle(None) == []
    with store.read() as conn:
        kinds = conn.execute(select(ownership_t.c.kind).where(ownership_t.c.kind == "recycled")).all()
    assert len(kinds) == 3


def test_recycle_skips_a_customer_changed_after_it_was_read(store, admin, alice, clock):
    """The conditional UPDATE re-checks the version: a follow-up logged meanwhile wins."""
    quiet = store.add_customer(alice, {"name": "Quiet"})
    clock.advance(days=31)
    rules = store.rules()
    with store.read() as conn:
        rows = conn.execute(store._recycle_candidates(rules, clock.now(), None)).all()
    store.log_follow_up(alice, quiet.id, "called just in time")
    due = [(row, store._deadline(row, rules)) for row in rows]
    with store.write() as conn:
        assert store._recycle_rows(conn, due, clock.now()) == []
    assert store.get_customer(quiet.id, admin).owner == "alice"


def test_recycle_in_batches_reports_progress(store, admin, alice, clock, monkeypatch):
    monkeypatch.setattr(sea_mod, "RECYCLE_BATCH", 3)
    store.set_rules(admin, {"private_cap": "0"})
    for n in range(8):
        store.add_customer(alice, {"name": f"C{n}"})
    clock.advance(days=31)
    seen = []
    moved = store.recycle(admin, progress=lambda done, total: seen.append((done, total)))
    assert len(moved) == 8
    assert seen[-1] == (8, 8) and len(seen) == 3


def test_recycle_if_stale_runs_at_most_hourly(store, admin, alice, clock):
    store.add_customer(alice, {"name": "Quiet"})
    assert store.recycle_if_stale(alice) == []
    assert store.last_recycle_at() == clock.now()
    clock.advance(minutes=59)
    assert store.recycle_if_stale(alice) is None
    clock.advance(days=31)
    assert len(store.recycle_if_stale(alice)) == 1


def test_due_warns_about_recycling_on_the_day_recycle_agrees(store, admin, alice, clock):
    quiet = store.add_customer(alice, {"name": "Quiet"})
    clock.advance(days=26)
    assert [d.customer_id for d in store.due(alice) if d.reason == "recycle"] == []
    clock.advance(days=1)  # 3 days (recycle_warn_days) before the deadline
    warning = [d for d in store.due(alice) if d.reason == "recycle"]
    assert [(w.customer_id, w.days) for w in warning] == [(quiet.id, 3)]
    clock.advance(days=2, hours=23)
    assert store.recycle(admin) == []
    clock.advance(hours=1)
    moved = store.recycle(admin)
    assert [m.customer_id for m in moved] == [quiet.id]
    assert moved[0].deadline == clock.now()
    assert warning[0].due_on == moved[0].deadline.astimezone().date()


@pytest.mark.parametrize("seed", [1, 2])
def test_sql_candidates_agree_with_recycle_deadline(store, admin, alice, clock, seed):
    """Random customers and rule sets: the dry run moves exactly what the function decides."""
    rnd = random.Random(seed)
    store.set_rules(admin, {"private_cap": "0"})
    now = clock.now()
    ids = []
    for n in range(40):
        customer = store.add_customer(alice, {"name": f"R{n}"})
        ids.append(customer.id)
        if rnd.random() < 0.3:
            store.add_deal(alice, customer.id, "deal", "100", stage=rnd.choice(["won", "proposal"]))
        set_dates(
            store, customer.id,
            claimed_at=None if rnd.random() < 0.1 else now - timedelta(days=rnd.randint(0, 200)),
            last_follow_up_at=None if rnd.random() < 0.4 else now - timedelta(days=rnd.randint(0, 60)),
            locked=rnd.random() < 0.1,
        )
    for _ in range(4):
        values = {
            "recycle_after_days": rnd.choice([0, 7, 30, 45]),
            "recycle_no_deal_days": rnd.choice([0, 30, 90]),
            "recycle_exempt_won": rnd.choice([True, False]),
        }
        store.set_rules(admin, values)
        rules = store.rules()
        expected = set()
        with store.read() as conn:
            for row in conn.execute(select(customer_t).where(customer_t.c.id.in_(ids))):
                won = conn.execute(select(deal_t.c.id).where(
                    deal_t.c.customer_id == row.id, deal_t.c.stage == "won")).first() is not None
                deadline = recycle_deadline(claimed_at=row.claimed_at,
                                            last_follow_up_at=row.last_follow_up_at,
                                            locked=row.locked, has_won_deal=won, rules=rules)
                if deadline is not None and deadline.at <= now:
                    expected.add(row.id)
        assert {m.customer_id for m in store.recycle(admin, dry_run=True)} == expected, values


# --- transfer -----------------------------------------------------------------------------------


def test_transfer_carries_contacts_open_deals_at_their_stage_and_history(store, admin, alice, bob, clock):
    acme = store.add_customer(alice, {"name": "Acme"})
    store.add_contact(alice, acme.id, {"name": "王芳", "phone": "13900139000", "is_primary": True})
    open_deal = store.add_deal(alice, acme.id, "renewal", "5000", stage="negotiation")
    won_deal = store.add_deal(alice, acme.id, "first order", "1000", stage="won")
    store.log_follow_up(alice, acme.id, "visited", next_at="2026-06-20")
    other = store.add_customer(alice, {"name": "Other"})
    clock.advance(days=20)
    result = store.transfer(admin, "alice", "bob", [acme.id])
    assert (result.moved, result.customers, result.to_rep) == (1, [acme.id], "bob")
    portrait = store.portrait(bob, acme.id)
    assert portrait.customer.owner == "bob" and portrait.customer.claimed_at == clock.now()
    assert [c.name for c in portrait.contacts] == ["王芳"] and portrait.contacts[0].phone == "+8613900139000"
    deals = {d.id: d for d in portrait.deals}
    assert (deals[open_deal.id].stage, deals[open_deal.id].owner) == ("negotiation", "bob")
    assert deals[open_deal.id].amount == Decimal("5000.00")
    assert (deals[won_deal.id].stage, deals[won_deal.id].owner) == ("won", "alice")
    assert [(f.summary, f.rep) for f in portrait.follow_ups] == [("visited", "alice")]
    assert portrait.customer.next_follow_up_at.isoformat() == "2026-06-20"
    assert portrait.ownership[0].kind == "transferred"
    assert (portrait.ownership[0].from_rep, portrait.ownership[0].to_rep) == ("alice", "bob")
    assert store.get_customer(other.id, alice).owner == "alice"


def test_transfer_all(store, admin, alice, bob):
    ids = [store.add_customer(alice, {"name": f"C{n}"}).id for n in range(3)]
    result = store.transfer(admin, "alice", "bob", all_customers=True)
    assert result.customers == ids
    assert store.find(alice, scope="mine") == []


def test_transfer_is_all_or_nothing(store, admin, alice, bob):
    mine = store.add_customer(alice, {"name": "Mine"})
    theirs = store.add_customer(bob, {"name": "Theirs"})
    with pytest.raises(RuleRefused) as caught:
        store.transfer(admin, "alice", "bob", [mine.id, theirs.id])
    assert caught.value.rule == "owner" and "nothing was transferred" in str(caught.value)
    with pytest.raises(NotFound):
        store.transfer(admin, "alice", "bob", [mine.id, 999])
    assert store.get_customer(mine.id, admin).owner == "alice"


def test_who_may_transfer(store, admin, make_rep, alice, bob):
    east_manager = make_rep("mia", role="manager", team="east")
    make_rep("walt", team="west")
    ids = [store.add_customer(alice, {"name": f"C{n}"}).id for n in range(3)]
    with pytest.raises(PermissionDenied):
        store.transfer(alice, "alice", "bob", [ids[0]])
    assert store.transfer(east_manager, "alice", "bob", [ids[0]]).moved == 1
    with pytest.raises(PermissionDenied, match="own team"):
        store.transfer(east_manager, "alice", "walt", [ids[1]])
    assert store.transfer(admin, "alice", "walt", [ids[1]]).moved == 1
    with pytest.raises(UsageError):
        store.transfer(admin, "alice", "bob", [ids[2]], all_customers=True)
    with pytest.raises(UsageError):
        store.transfer(admin, "alice", "alice", all_customers=True)
    with pytest.raises(NotFound):
        store.transfer(admin, "alice", "nobody", all_customers=True)


def test_transfer_is_not_blocked_by_the_cap_but_says_so(store, admin, alice, bob):
    store.set_rules(admin, {"private_cap": "2"})
    store.add_customer(bob, {"name": "Bob's"})
    ids = [store.add_customer(alice, {"name": f"C{n}"}).id for n in range(2)]
    result = store.transfer(admin, "alice", "bob", ids)
    assert result.moved == 2 and result.over_cap


# --- deactivation -------------------------------------------------------------------------------


def test_deactivate_refuses_until_the_customers_have_somewhere_to_go(store, admin, alice, bob):
    ids = [store.add_customer(alice, {"name": f"C{n}"}).id for n in range(2)]
    with pytest.raises(RuleRefused) as caught:
        store.deactivate_rep(admin, "alice")
    assert caught.value.rule == "deactivate" and "owns 2 customers" in str(caught.value)
    assert store.actor("alice").active
    result = store.deactivate_rep(admin, "alice", transfer_to="bob")
    assert (result.moved, result.customers, result.to_rep) == (2, ids, "bob")
    assert [c.id for c in store.find(bob, scope="mine")] == ids
    with pytest.raises(Exception, match="deactivated"):
        store.actor("alice")


def test_deactivate_to_pool(store, admin, alice):
    acme = store.add_customer(alice, {"name": "Acme"})
    result = store.deactivate_rep(admin, "alice", to_pool=True)
    assert result.to_rep is None and result.customers == [acme.id]
    record = store.get_customer(acme.id, admin)
    assert record.owner is None and "alice was deactivated" in record.release_reason


def test_deactivate_rules(store, admin, make_rep, alice, bob):
    manager = make_rep("mia", role="manager", team="east")
    with pytest.raises(PermissionDenied):
        store.deactivate_rep(manager, "alice", to_pool=True)
    with pytest.raises(RuleRefused, match="yourself"):
        store.deactivate_rep(admin, "boss", to_pool=True)
    with pytest.raises(UsageError):
        store.deactivate_rep(admin, "alice", transfer_to="bob", to_pool=True)
    store.deactivate_rep(admin, "bob")  # owns nothing: nothing to move
    store.add_customer(alice, {"name": "Acme"})
    with pytest.raises(RuleRefused, match="deactivated"):
        store.deactivate_rep(admin, "alice", transfer_to="bob")


# --- rules --------------------------------------------------------------------------------------


def test_set_rules_validates_and_audits(store, admin, alice):
    with pytest.raises(PermissionDenied):
        store.set_rules(alice, {"private_cap": "10"})
    for key, raw in [("recycle_after_days", "-1"), ("private_cap", "many"), ("locked", "1"),
                     ("recycle_exempt_won", "maybe"), (rules_mod.LAST_RECYCLE_KEY, "x")]:
        with pytest.raises(ValidationError) as caught:
            store.set_rules(admin, {"lock_cap": "3", key: raw})
        assert caught.value.field == key
    assert store.rules()["lock_cap"] == 10  # nothing half-written
    after = store.set_rules(admin, {"lock_cap": "3", "release_reasons": "太贵, no intent"})
    assert after["lock_cap"] == 3 and after["release_reasons"] == ["太贵", "no intent"]
    with store.read() as conn:
        audited = conn.execute(
            select(audit_t.c.field, audit_t.c.old, audit_t.c.new).where(audit_t.c.entity == "setting")
            .order_by(audit_t.c.field)
        ).all()
    assert [(a.field, a.old, a.new) for a in audited][0] == ("lock_cap", "10", "3")
    assert store.set_rules(admin, {"lock_cap": 3})["lock_cap"] == 3  # unchanged: fine


# --- the open sea -------------------------------------------------------------------------------


def test_pool_lists_the_open_sea_with_why_and_how_long(store, admin, alice, pool_customer, clock):
    old = pool_customer("Old lead", phone="13800138000")
    mine = store.add_customer(alice, {"name": "Mine"})
    clock.advance(days=5)
    store.release(mine.id, alice, "no budget")
    entries = store.pool(alice)
    assert [(e.customer.id, e.days_in_pool) for e in entries] == [(mine.id, 0), (old.id, 5)]
    assert entries[0].customer.release_reason == "no budget"
    assert entries[0].customer.released_by == "alice"
    assert entries[1].customer.masked and "****" in entries[1].customer.phone
    assert entries[1].as_dict()["days_in_pool"] == 5
    assert [e.customer.id for e in store.pool(alice, "old")] == [old.id]
    store.claim(old.id, alice)
    assert [e.customer.id for e in store.pool(alice)] == [mine.id]


def test_masking_in_find_and_portrait_until_claimed(store, admin, alice, pool_customer):
    acme = pool_customer("Acme", phone="13800138000", email="info@acme.com")
    store.add_contact(admin, acme.id, {"name": "王芳", "phone": "13900139000", "wechat": "wf88"})
    found = store.find(alice, "acme")[0]
    assert found.masked and found.email == "i***@acme.com"
    portrait = store.portrait(alice, acme.id)
    assert portrait.contacts[0].phone is None and portrait.contacts[0].wechat is None
    store.claim(acme.id, alice)
    portrait = store.portrait(alice, acme.id)
    assert portrait.customer.email == "info@acme.com"
    assert (portrait.contacts[0].phone, portrait.contacts[0].wechat) == ("+8613900139000", "wf88")


def test_masking_off_shows_pool_contacts(store, admin, alice, pool_customer):
    store.set_rules(admin, {"mask_pool_contacts": "false"})
    acme = pool_customer("Acme", phone="13800138000")
    assert store.pool(alice)[0].customer.phone == "+8613800138000"
    assert store.get_customer(acme.id, alice).phone == "+8613800138000"


def test_every_move_is_in_the_ownership_history(store, admin, alice, bob, pool_customer, clock):
    acme = pool_customer("Acme")
    store.claim(acme.id, alice)
    store.release(acme.id, alice, "no budget")
    store.claim(acme.id, bob)
    store.transfer(admin, "bob", "alice", [acme.id])
    clock.advance(days=31)
    store.recycle(admin)
    history = store.portrait(admin, acme.id).ownership
    assert [(o.kind, o.from_rep, o.to_rep) for o in reversed(history)] == [
        ("created", None, None), ("claimed", None, "alice"), ("released", "alice", None),
        ("claimed", None, "bob"), ("transferred", "bob", "alice"), ("recycled", "alice", None),
    ]


def test_moves_are_announced_after_they_commit(store, db_url, admin, alice, pool_customer):
    """PostgreSQL: a LISTENing client hears of the claim and can already read the new owner."""
    if store.is_sqlite:
        pytest.skip("SQLite clients poll PRAGMA data_version instead")
    import psycopg

    acme = pool_customer("Acme")
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN crm_changes")
        store.claim(acme.id, alice)
        heard = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
        owner = listener.execute("SELECT owner_id FROM customer WHERE id = %s", (acme.id,)).fetchone()
        store.release(acme.id, alice, "no budget")
        heard += [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
    assert heard == [str(acme.id), str(acme.id)] and owner == (alice.id,)
