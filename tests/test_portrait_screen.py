"""The portrait screen's edges: a customer the rep may not see, and closing the portrait."""

from __future__ import annotations

from textual.widgets import Static

from crm_tui.tui.screens.portrait import PortraitScreen
from crm_tui.tui.widgets.timeline import Timeline
from tests.test_portrait_tui import app_for, book, open_portrait, settle  # noqa: F401 - book is a fixture
from tests.tui_data import pilot_test


@pilot_test
async def test_a_customer_out_of_reach_says_why_and_offers_no_actions(book):  # noqa: F811
    store, admin, ids = book
    store.add_rep(admin, "alice", "Alice Wang")
    alice = store.actor("alice")
    app = app_for(store, alice)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.open_customer(ids["张伟"])  # the boss's private customer
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PortraitScreen) and screen.portrait is None
        card = str(screen.query_one("#portrait-card", Static).render())
        assert card == f"No customer {ids['张伟']} that you may see."  # the store's reason
        assert screen.query_one(Timeline).follow_ups == []
        await pilot.press("f", "e", "d")  # nothing to act on: no form opens
        await settle(pilot)
        assert app.screen is screen
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, PortraitScreen)


@pilot_test
async def test_a_closed_portrait_no_longer_listens_for_changes(book, monkeypatch):  # noqa: F811
    store, admin, ids = book
    app = app_for(store, admin)
    let_go: list[object] = []
    unsubscribe = app.customers_changed.unsubscribe

    def record_unsubscribe(node):
        let_go.append(node)
        unsubscribe(node)

    monkeypatch.setattr(app.customers_changed, "unsubscribe", record_unsubscribe)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_portrait(pilot, ids["李娜"])
        loads = screen.load_count
        app.customers_changed.publish(frozenset({ids["李娜"]}))  # open, it listens
        await settle(pilot)
        assert screen.load_count == loads + 1
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, PortraitScreen)
        # Kept subscribed, every closed portrait would stay in memory until the next change.
        assert screen in let_go
        app.customers_changed.publish(frozenset({ids["李娜"]}))
        await settle(pilot)
        assert screen.load_count == loads + 1
