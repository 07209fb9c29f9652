"""Pilot tests and snapshots of the open-sea browser (screen 3), on SQLite and PostgreSQL.

Claim with ``c`` and the customer leaves the sea and enters my list; every refusal is the
store's sentence; a claim made by another app instance on the same database takes the row out
of this one's browser (live updates); contacts are masked while ``mask_pool_contacts`` is on.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from crm_tui.store import Actor, FixedClock, Store
from crm_tui.store.schema import migrate as schema
from crm_tui.store.schema.setup import initialise
from crm_tui.tui.app import CrmApp, make_app
from crm_tui.tui.screens.customer_list import CustomerListScreen
from crm_tui.tui.screens.open_sea import OpenSeaScreen
from crm_tui.tui.widgets.customer_table import CustomerTable
from tests.conftest import FIXED_NOW
from tests.tui_data import pilot_test, settle, utc_local_time, wait_for

SIZE = (120, 36)
LIVE_CEILING = 20.0
"""Seconds a live-update test waits before it fails (a ceiling against hanging, not a budget:
the 2 s figure is the watcher's design — 0.5 s polls on SQLite, NOTIFY on PostgreSQL)."""

# name, company, phone, email, industry, region, source, tier, story
SEA = [
    ("张伟", "华为技术有限公司", "13800138000", "zhang.wei@example.cn", "制造业", "广东", "展会", "B", "released"),
    ("单丽丽", "美团", "13300133000", None, "互联网", "北京", "官网", None, "released"),
    ("Alice Martin", "Acme Ltd", "+44 20 7946 0958", "alice@acme.example", "Retail", "London", "website", "C", "recycled"),
    ("赵强", "百度在线", "13200132000", "zq@baidu.example", "互联网", "北京", "转介绍", None, "new"),
    ("Søren Nielsen", "Nordic [bold]Trade[/bold]", "+45 32 12 34 56", None, "Logistics", "Copenhagen", "partner", "C", "released"),
]


def fill_sea(store: Store, admin: Actor, former: Actor, clock: FixedClock) -> dict[str, int]:
    """The open sea: released with a reason and a follow-up history, recycled, created there."""
    ids: dict[str, int] = {}
    for days_ago, (name, company, phone, email, industry, region, source, tier, story) in zip(
            (20, 12, 9, 5, 2), SEA, strict=True):
        clock.at = FIXED_NOW - timedelta(days=days_ago, hours=1)
        fields = dict(name=name, company=company, phone=phone, email=email, industry=industry,
                      region=region, source=source, tier=tier)
        if story == "new":
            record = store.add_customer(admin, fields, pool=True)
        else:
            record = store.add_customer(former, fields)
            store.log_follow_up(former, record.id, f"{name}: asked for a quote, no budget yet",
                                at=(clock.now() - timedelta(days=3)).isoformat())
            if story == "released":
                store.release(record.id, former, "no budget")
        ids[name] = record.id
    clock.at = FIXED_NOW
    from sqlalchemy import update

    from crm_tui.store.db.base import customer_t

    with store.engine.begin() as conn:
        conn.execute(update(customer_t).where(customer_t.c.id == ids["Alice Martin"]).values(
            owner_id=None, claimed_at=None, pool_entered_at=FIXED_NOW - timedelta(days=9, hours=1),
            release_reason="recycled: no follow-up for 30 days (rule recycle_after_days)"))
    return ids


def sea_names(screen: OpenSeaScreen) -> list[str]:
    table = screen.table
    return [row.name for i in range(table.total or 0) if (row := table.row_at(i)) is not None]


async def open_sea(pilot) -> OpenSeaScreen:
    await pilot.press("3")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, OpenSeaScreen)
    return screen


async def put_cursor_on(pilot, screen: OpenSeaScreen, name: str) -> None:
    names = sea_names(screen)
    screen.table.move_cursor(names.index(name))
    await pilot.pause()
    assert screen.table.cursor_customer.name == name


@pytest.fixture
def sea(store, admin, make_rep, clock):
    """The open sea on each backend; ``alice`` browses it, ``carl`` used to own most of it."""
    with utc_local_time():
        carl = make_rep("carl", name="Carl Former")
        alice = make_rep("alice", name="Alice Wang")
        ids = fill_sea(store, admin, carl, clock)
        yield store, alice, ids


def app_for(store: Store, actor: Actor, *, live: bool = False) -> CrmApp:
    return make_app(store, actor, clock=store.clock, cursor_blink=False, watch_changes=live)


# --- claim ----------------------------------------------------------------------------------------


@pilot_test
async def test_claim_leaves_the_sea_and_enters_my_list(sea):
    store, alice, ids = sea
    app = app_for(store, alice)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_sea(pilot)
        assert sorted(sea_names(screen)) == sorted(ids)
        assert "0 of 200" in str(screen.query_one("#sea-claims").render())
        await put_cursor_on(pilot, screen, "张伟")
        await pilot.press("c")
        await settle(pilot)
        assert "张伟" not in sea_names(screen)
        assert screen.total == len(ids) - 1
        assert screen.last_message == "张伟 is in your private sea now."
        assert "1 of 200" in str(screen.query_one("#sea-claims").render())
        assert "claims today: 1 of 20" in str(screen.query_one("#sea-claims").render())
        await pilot.press("1")
        await settle(pilot)
        assert isinstance(app.screen, CustomerListScreen)
        mine = app.screen.query_one(CustomerTable)
        assert [mine.row_at(i).name for i in range(mine.total)] == ["张伟"]
    assert store.get_customer(ids["张伟"], alice).owner == "alice"


@pytest.mark.parametrize("rule", ["taken", "private_cap", "daily_claim_limit", "reclaim_cooldown_days"])
@pilot_test
async def test_each_refusal_gets_its_message(sea, admin, make_rep, rule):
    store, alice, ids = sea
    target = "单丽丽"
    expected: list[str]
    if rule == "taken":
        bob = make_rep("bob", name="Bob Li")
        expected = ["already claimed by Bob Li (bob)"]
    elif rule == "private_cap":
        store.set_rules(admin, {"private_cap": "1"})
        store.claim(ids["赵强"], alice)
        expected = ["private sea is full: 1 of 1 customers"]
    elif rule == "daily_claim_limit":
        store.set_rules(admin, {"daily_claim_limit": "1"})
        store.claim(ids["赵强"], alice)
        expected = ["1 of 1 claims today"]
    else:
        store.claim(ids[target], alice)
        store.release(ids[target], alice, "no intent")
        expected = ["was released by you on 2026-06-15", "again from 2026-06-22"]
    app = app_for(store, alice)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await open_sea(pilot)
        await put_cursor_on(pilot, screen, target)
        if rule == "taken":
            store.claim(ids[target], bob)  # another client, behind this app's back
        await pilot.press("c")
        await settle(pilot)
        for piece in expected:
            assert piece in screen.last_message
        assert any(piece in n.message for n in app._notifications for piece in expected)
        if rule == "taken":
            assert target not in sea_names(screen)  # the browser caught up
        else:
            assert target in sea_names(screen)
    assert store.get_customer(ids[target], admin).owner != "alice"


@pilot_test
async def test_pool_contacts_are_masked_and_the_story_is_shown(sea):
    store, alice, ids = sea
    app = app_for(store, alice)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_sea(pilot)
        await put_cursor_on(pilot, screen, "张伟")
        row = screen.table.cursor_customer
        assert row.phone == "+86138****8000" and row.masked
        assert row.email == "z***@example.cn"
        assert row.days_in_pool == 20 and row.released_by == "carl"
        assert row.last_summary == "张伟: asked for a quote, no budget yet"
        detail = str(screen.query_one("#sea-detail").render())
        assert "no budget" in detail and "by carl" in detail and "masked" in detail
        await put_cursor_on(pilot, screen, "Alice Martin")
        detail = str(screen.query_one("#sea-detail").render())
        assert "recycled" in detail and "by rule" in detail


@pilot_test
async def test_search_filters_and_sort_work_as_on_the_list(sea):
    store, alice, ids = sea
    app = app_for(store, alice)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_sea(pilot)
        # Newest in the sea first.
        assert sea_names(screen)[0] == "Søren Nielsen"
        await pilot.press("slash", "z", "w")
        await settle(pilot)
        assert sea_names(screen) == ["张伟"]
        await pilot.press("escape", "escape")
        await settle(pilot)
        screen.change_listing(region="北京")
        await settle(pilot)
        assert sorted(sea_names(screen)) == ["单丽丽", "赵强"]
        screen.change_listing(region=None)
        await pilot.press("s")  # by name
        await settle(pilot)
        assert screen.listing.sort == "name"
        assert sea_names(screen) == sorted(sea_names(screen))


# --- live updates ---------------------------------------------------------------------------------


@pilot_test
async def test_a_claim_in_another_app_leaves_this_browser(sea, db_url):
    """Two app instances on one database (each with its own store and connections): Alice
    claims in hers; Bob's browser loses the row without a keypress."""
    store, alice, ids = sea
    bob_store = Store(db_url, clock=store.clock)
    bob = bob_store.actor("boss")
    alice_app = app_for(store, alice, live=True)
    bob_app = app_for(bob_store, bob, live=True)
    try:
        async with bob_app.run_test(size=SIZE) as bob_pilot:
            bob_screen = await open_sea(bob_pilot)
            assert "赵强" in sea_names(bob_screen)
            async with alice_app.run_test(size=SIZE) as alice_pilot:
                alice_screen = await open_sea(alice_pilot)
                await put_cursor_on(alice_pilot, alice_screen, "赵强")
                await alice_pilot.press("c")
                await settle(alice_pilot)
                assert "赵强" not in sea_names(alice_screen)
            await wait_for(bob_pilot, lambda: "赵强" not in sea_names(bob_screen),
                           "alice's claim in bob's browser", timeout=LIVE_CEILING)
            await settle(bob_pilot)
            assert "赵强" not in sea_names(bob_screen)
            assert bob_screen.total == len(ids) - 1
    finally:
        bob_store.close()


# --- snapshots ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sea_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seabook") / "crm.db"
    schema.upgrade(str(path))
    clock = FixedClock(FIXED_NOW)
    with utc_local_time():
        initialise(str(path), "boss", "The Boss", clock=clock)
        store = Store(str(path), clock=clock)
        admin = store.actor("boss")
        store.add_rep(admin, "carl", "Carl Former")
        store.add_rep(admin, "alice", "Alice Wang")
        fill_sea(store, admin, store.actor("carl"), clock)
        store.close()
    return path


@pytest.fixture
def sea_app(sea_file: Path, tmp_path: Path) -> Iterator[CrmApp]:
    path = tmp_path / "crm.db"
    shutil.copyfile(sea_file, path)
    clock = FixedClock(FIXED_NOW)
    with utc_local_time():
        store = Store(str(path), clock=clock)
        yield make_app(store, store.actor("alice"), clock=clock, cursor_blink=False,
                       watch_changes=False)
        store.close()


def test_snapshot_open_sea_browser(snap_compare, sea_app):
    """The open sea at 120×36: CJK and Latin names, masked phones and e-mails, why each customer
    is there (released by carl: no budget; recycled by rule; never owned), days in the sea, the
    last follow-up, my count against the cap, and the cursor customer's story underneath."""

    async def run_before(pilot) -> None:
        await pilot.press("3")
        await settle(pilot)
        pilot.app.sub_title = "Alice Wang (alice, rep) · crm.db"
        await pilot.press("j")
        await settle(pilot)

    assert snap_compare(sea_app, terminal_size=SIZE, run_before=run_before)
