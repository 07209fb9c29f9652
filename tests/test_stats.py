"""The dashboard's figures (store ``dashboard``) and ``crm stats``, on SQLite and PostgreSQL.

Visibility is the store's: a rep's dashboard covers only their own work, a manager's their
team's, an admin's everyone's; the open sea is everyone's.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from crm_tui.cli.app import app
from crm_tui.store.analytics import dashboard as stats
from crm_tui.store.analytics.dashboard import POOL_WEEKS, deal_t
from crm_tui.store.db.base import customer_t
from crm_tui.store.sea.deadlines import recycle_deadline


@pytest.fixture
def alice(make_rep):
    return make_rep("alice", team="east", name="Alice Wang")


@pytest.fixture
def bob(make_rep):
    return make_rep("bob", team="east")


@pytest.fixture
def carol(make_rep):
    return make_rep("carol", team="west")


@pytest.fixture
def east_manager(make_rep):
    return make_rep("mgr", role="manager", team="east")


def add(store, actor, name, **fields):
    pool = fields.pop("pool", False)
    return store.add_customer(actor, {"name": name, **fields}, pool=pool)


def set_customer(store, customer_id, **values):
    with store.engine.begin() as conn:
        conn.execute(update(customer_t).where(customer_t.c.id == customer_id).values(**values))


def line(board, login):
    return next(rep for rep in board.reps if rep.login == login)


# --- visibility ---------------------------------------------------------------------------------


def _book(store, alice, bob, carol, admin):
    """Alice 3 customers (1 deal), Bob 2 (1 deal), Carol 1 (1 deal), 2 in the open sea."""
    mine = [add(store, alice, f"阿里{i}") for i in range(3)]
    store.add_deal(alice, mine[0].id, "ERP", "1000", stage="proposal")
    store.log_follow_up(alice, mine[1].id, "called")
    bobs = [add(store, bob, f"Bob customer {i}") for i in range(2)]
    store.add_deal(bob, bobs[0].id, "CRM", "5000", stage="won")
    store.log_follow_up(bob, bobs[0].id, "visited")
    store.log_follow_up(bob, bobs[1].id, "visited")
    carols = [add(store, carol, "West Ltd")]
    store.add_deal(carol, carols[0].id, "Big", "70000", stage="negotiation")
    add(store, admin, "Pool one", pool=True)
    add(store, admin, "Pool two", pool=True)


def test_rep_dashboard_shows_only_their_own_figures(store, admin, alice, bob, carol):
    _book(store, alice, bob, carol, admin)
    board = store.dashboard(alice)
    assert board.scope == "own"
    assert [rep.login for rep in board.reps] == ["alice"]
    me = line(board, "alice")
    assert (me.owned, me.follow_ups_7d, me.follow_ups_30d, me.won_this_month) == (3, 1, 1, 0)
    assert sum(board.tiers.values()) == 3
    assert sum(board.rfm.values()) == 3
    stages = {stage.stage: stage for stage in board.pipeline}
    assert [stage.stage for stage in board.pipeline] == [
        "prospecting", "qualified", "proposal", "negotiation", "won", "lost"]
    assert sum(stage.count for stage in board.pipeline) == 1
    assert stages["proposal"].amount == Decimal("1000.00")
    assert stages["proposal"].weighted == Decimal("500.00")
    # The open sea is everyone's.
    assert board.open_sea.size == 2


def test_manager_sees_their_team_and_admin_everyone(store, admin, alice, bob, carol, east_manager):
    _book(store, alice, bob, carol, admin)
    team = store.dashboard(east_manager)
    assert team.scope == "team" and team.team == "east"
    assert [rep.login for rep in team.reps] == ["alice", "bob", "mgr"]
    assert team.totals.owned == 5
    assert sum(team.tiers.values()) == 5
    assert {s.stage: s.count for s in team.pipeline}["negotiation"] == 0  # Carol is west
    assert line(team, "bob").won_this_month == 1
    assert line(team, "bob").won_amount_this_month == Decimal("5000.00")

    everyone = store.dashboard(admin)
    assert everyone.scope == "all"
    assert [rep.login for rep in everyone.reps] == ["alice", "bob", "boss", "carol", "mgr"]
    assert everyone.totals.owned == 6
    assert sum(everyone.tiers.values()) == 6
    stages = {s.stage: s for s in everyone.pipeline}
    assert stages["negotiation"].count == 1
    assert stages["negotiation"].weighted == Decimal("52500.00")
    assert stages["won"].weighted == Decimal("5000.00")
    assert everyone.open_sea.size == 2


def test_manager_without_team_sees_only_their_own(store, make_rep, alice):
    lone = make_rep("lone", role="manager")
    add(store, alice, "Alice's")
    add(store, lone, "Lone's")
    board = store.dashboard(lone)
    assert board.scope == "own"
    assert [(rep.login, rep.owned) for rep in board.reps] == [("lone", 1)]


# --- per-rep work -------------------------------------------------------------------------------


def test_follow_ups_counted_in_7_and_30_day_windows(store, alice, clock):
    customer = add(store, alice, "Acme")
    for days_ago in (0, 2, 6, 8, 29, 31, 90):
        store.log_follow_up(alice, customer.id, f"{days_ago} days ago",
                            at=(clock.now() - timedelta(days=days_ago, minutes=1)).isoformat())
    me = line(store.dashboard(alice), "alice")
    assert (me.follow_ups_7d, me.follow_ups_30d) == (3, 5)


def test_overdue_counts_next_follow_ups_before_today(store, alice, clock):
    late = add(store, alice, "Late Ltd")
    today = add(store, alice, "Today Ltd")
    later = add(store, alice, "Later Ltd")
    store.log_follow_up(alice, late.id, "call back", next_at=clock.today() + timedelta(days=1))
    store.log_follow_up(alice, today.id, "call back", next_at=clock.today() + timedelta(days=3))
    store.log_follow_up(alice, later.id, "call back", next_at=clock.today() + timedelta(days=9))
    assert line(store.dashboard(alice), "alice").overdue == 0
    clock.advance(days=3)
    assert line(store.dashboard(alice), "alice").overdue == 1
    assert {item.customer_id for item in store.due(alice) if item.reason == "overdue"} == {late.id}


@pytest.mark.parametrize("seed", [1, 2])
def test_recycle_soon_agrees_with_the_recycle_rule(store, admin, alice, bob, clock, seed):
    """The SQL of ``recycle_soon`` and ``deadlines.recycle_deadline`` decide alike, and match
    the recycle warnings of *Due today*."""
    rng = random.Random(seed)
    rules = store.rules()
    now = clock.now()
    owners = {"alice": alice, "bob": bob}
    facts = []
    for index in range(40):
        login = rng.choice(sorted(owners))
        customer = add(store, owners[login], f"Customer {seed}-{index}")
        claimed = now - timedelta(days=rng.choice([1, 20, 26, 27, 28, 29, 31, 60, 86, 88, 95]),
                                  hours=rng.randrange(24))
        last = rng.choice([None, claimed + timedelta(days=rng.randrange(0, 5)),
                           now - timedelta(days=rng.choice([1, 26, 27, 28, 40]))])
        if last is not None and last > now:
            last = now
        locked = rng.random() < 0.15
        won = rng.random() < 0.2
        if won:
            store.add_deal(owners[login], customer.id, "won deal", "100", stage="won")
        set_customer(store, customer.id, claimed_at=claimed, last_follow_up_at=last, locked=locked)
        facts.append((login, claimed, last, locked, won))
    warn = timedelta(days=int(rules["recycle_warn_days"]))
    expected = Counter()
    for login, claimed, last, locked, won in facts:
        deadline = recycle_deadline(claimed_at=claimed, last_follow_up_at=last, locked=locked,
                                    has_won_deal=won, rules=rules)
        if deadline is not None and deadline.at <= now + warn:
            expected[login] += 1
    board = store.dashboard(admin)
    assert {rep.login: rep.recycle_soon for rep in board.reps if rep.recycle_soon} == dict(expected)
    assert 0 < sum(expected.values()) < len(facts)  # the sample exercises both outcomes
    due_alice = [item for item in store.due(alice) if item.reason == "recycle"]
    assert line(board, "alice").recycle_soon == len(due_alice)
    # A rep's own dashboard asks the same question another way (a correlated EXISTS).
    assert line(store.dashboard(alice), "alice").recycle_soon == expected["alice"]
    assert line(store.dashboard(bob), "bob").recycle_soon == expected["bob"]


def test_recycle_soon_follows_changed_rules(store, admin, alice, clock):
    customer = add(store, alice, "Quiet Ltd")
    set_customer(store, customer.id, claimed_at=clock.now() - timedelta(days=20),
                 last_follow_up_at=None)
    assert line(store.dashboard(alice), "alice").recycle_soon == 0
    store.set_rules(admin, {"recycle_after_days": "22"})
    assert line(store.dashboard(alice), "alice").recycle_soon == 1
    store.set_rules(admin, {"recycle_after_days": "0", "recycle_no_deal_days": "0"})
    assert line(store.dashboard(alice), "alice").recycle_soon == 0


def test_won_this_month_counts_only_this_calendar_month(store, alice, clock):
    customer = add(store, alice, "Acme")
    this_month = store.add_deal(alice, customer.id, "now", "300.50", stage="won")
    earlier = store.add_deal(alice, customer.id, "before", "1000", stage="won")
    with store.engine.begin() as conn:
        conn.execute(update(deal_t).where(deal_t.c.id == earlier.id)
                     .values(closed_at=clock.now() - timedelta(days=40)))
    me = line(store.dashboard(alice), "alice")
    assert (me.won_this_month, me.won_amount_this_month) == (1, Decimal("300.50"))
    won = {s.stage: s for s in store.dashboard(alice).pipeline}["won"]
    assert (won.count, won.amount) == (2, Decimal("1300.50"))
    assert this_month.stage == "won"


# --- value --------------------------------------------------------------------------------------


def test_rfm_segments_match_the_portraits(store, alice, clock):
    """Each customer counts in the segment its portrait shows."""
    plans = {"none": [], "one recent": [5], "two recent": [3, 10], "one old": [200],
             "two old": [200, 400], "four recent": [1, 2, 3, 4], "lapsed": [150]}
    ids = []
    for name, ages in plans.items():
        customer = add(store, alice, name)
        ids.append(customer.id)
        for age in ages:
            deal = store.add_deal(alice, customer.id, f"deal {age}", "1000", stage="won")
            with store.engine.begin() as conn:
                conn.execute(update(deal_t).where(deal_t.c.id == deal.id)
                             .values(closed_at=clock.now() - timedelta(days=age)))
    expected = Counter(store.portrait(alice, cid).value.rfm_segment for cid in ids)
    board = store.dashboard(alice)
    assert {name: n for name, n in board.rfm.items() if n} == dict(expected)
    assert len(expected) >= 4


def test_tiers_count_customers_without_a_tier_as_none(store, alice):
    for name, tier in (("a", "A"), ("b", "B"), ("c", "C"), ("d", None)):
        customer = add(store, alice, name)
        set_customer(store, customer.id, tier=tier)
    assert store.dashboard(alice).tiers == {"A": 1, "B": 1, "C": 1, "none": 1}


# --- the open sea -------------------------------------------------------------------------------


def test_open_sea_inflow_and_outflow_per_week(store, admin, alice, bob, clock):
    store.set_rules(admin, {"daily_claim_limit": "0", "reclaim_cooldown_days": "0"})
    first = add(store, admin, "Pool A", pool=True)      # in (created in the pool), week 0
    second = add(store, admin, "Pool B", pool=True)     # in, week 0
    add(store, alice, "Owned from the start")           # not a pool move
    store.claim(first.id, alice)                        # out, week 0
    clock.advance(days=7)
    store.release(first.id, alice, "no budget")         # in, week 1
    store.claim(second.id, bob)                         # out, week 1
    store.claim(first.id, bob)                          # out, week 1
    board = store.dashboard(alice)
    weeks = board.open_sea.weeks
    assert len(weeks) == POOL_WEEKS
    assert all(week.week.weekday() == 0 for week in weeks)
    assert weeks[-1].week <= clock.today() < weeks[-1].week + timedelta(days=7)
    assert [(w.inflow, w.outflow) for w in weeks[-2:]] == [(2, 1), (1, 2)]
    assert sum(w.inflow + w.outflow for w in weeks[:-2]) == 0
    assert board.open_sea.size == 0


def test_claim_status_counts_owned_and_todays_claims(store, admin, alice, clock):
    store.set_rules(admin, {"private_cap": "5", "daily_claim_limit": "3"})
    add(store, alice, "Own one")
    for name in ("P1", "P2"):
        store.claim(add(store, admin, name, pool=True).id, alice)
    status = store.claim_status(alice)
    assert (status.owned, status.private_cap, status.claimed_today, status.daily_claim_limit) == (
        3, 5, 2, 3)
    clock.advance(days=1)
    assert store.claim_status(alice).claimed_today == 0


def test_pool_notes_give_days_in_pool_and_last_summary(store, admin, alice, clock):
    customer = add(store, admin, "Acme", pool=True)
    store.claim(customer.id, alice)
    store.log_follow_up(alice, customer.id, "first call", at=(clock.now() - timedelta(hours=2)).isoformat())
    store.log_follow_up(alice, customer.id, "wants a quote next year")
    store.release(customer.id, alice, "no budget")
    owned = add(store, alice, "Still mine")
    quiet = add(store, admin, "Never called", pool=True)
    clock.advance(days=4)
    notes = store.pool_notes(alice, [customer.id, owned.id, quiet.id])
    assert set(notes) == {customer.id, quiet.id}
    assert notes[customer.id].last_summary == "wants a quote next year"
    assert notes[customer.id].days_in_pool == 4
    assert notes[quiet.id].last_summary is None


# --- crm stats ----------------------------------------------------------------------------------


def test_crm_stats_json_and_text(store, admin, alice, bob, carol, db_url):
    """``crm stats`` acts as the OS account (SQLite) or database role (PostgreSQL): make that
    an admin, then look through ``--as alice`` to see a rep's scope."""
    from crm_tui.config import acting_login

    _book(store, alice, bob, carol, admin)
    store.add_rep(admin, acting_login(store), "CLI admin", role="admin")
    runner = CliRunner()
    result = runner.invoke(app, ["--db", db_url, "stats", "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= {"scope", "reps", "pipeline", "tiers", "rfm", "open_sea"}
    assert data["scope"] == "all"
    assert set(data["reps"][0]) >= {"login", "owned", "follow_ups_7d", "follow_ups_30d", "overdue",
                                    "recycle_soon", "won_this_month"}
    assert set(data["pipeline"][0]) == {"stage", "count", "amount", "weighted"}
    assert set(data["tiers"]) == {"A", "B", "C", "none"}
    assert set(data["open_sea"]) == {"size", "weeks"}
    assert set(data["open_sea"]["weeks"][0]) == {"week", "inflow", "outflow"}
    assert data["open_sea"]["size"] == 2

    as_alice = runner.invoke(app, ["--db", db_url, "--as", "alice", "stats", "--json"])
    assert as_alice.exit_code == 0, as_alice.stderr
    alice_data = json.loads(as_alice.stdout)
    assert alice_data["scope"] == "own"
    assert [rep["login"] for rep in alice_data["reps"]] == ["alice"]

    text = runner.invoke(app, ["--db", db_url, "--as", "alice", "stats"])
    assert text.exit_code == 0, text.stderr
    assert "alice" in text.stdout and "bob" not in text.stdout
    assert "proposal" in text.stdout and "Open sea" in text.stdout


# --- sections on parallel connections -----------------------------------------------------------


def test_sections_in_parallel_give_the_same_dashboard_as_one_after_another(
    store, admin, alice, bob, carol, east_manager, clock, monkeypatch
):
    """The dashboard's sections run on separate connections and threads, each filling in its own
    figures of the rep lines; the result is the one a single sequential pass gives."""
    _book(store, alice, bob, carol, admin)
    late = add(store, alice, "Late")
    store.log_follow_up(alice, late.id, "call back", next_at=clock.today() + timedelta(days=1))
    store.add_deal(alice, late.id, "Win", "250", stage="won")
    clock.advance(days=3)
    for actor in (admin, east_manager, alice):
        monkeypatch.setattr(stats, "DASHBOARD_WORKERS", 3)
        parallel = store.dashboard(actor).as_dict()
        monkeypatch.setattr(stats, "DASHBOARD_WORKERS", 1)
        sequential = store.dashboard(actor).as_dict()
        assert parallel == sequential
        # Every customer in scope is in one RFM segment (RFM counts its own prospects).
        assert sum(parallel["rfm"].values()) == sum(parallel["tiers"].values())
        assert any(rep["overdue"] for rep in parallel["reps"])


def test_a_failing_section_fails_the_whole_dashboard(store, alice, monkeypatch):
    """No half-filled dashboard: an error in one parallel section reaches the caller."""
    add(store, alice, "Acme")

    def broken(conn):
        raise RuntimeError("open sea unavailable")

    monkeypatch.setattr(store, "_pool_figures", broken)
    with pytest.raises(RuntimeError, match="open sea unavailable"):
        store.dashboard(alice)
    monkeypatch.undo()
    assert store.dashboard(alice).reps[0].owned == 1  # the pool's connections are usable again
