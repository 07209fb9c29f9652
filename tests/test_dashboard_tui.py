"""Pilot tests and snapshots of the dashboard (screen 4), the rules screen and TUI transfer.

Whose figures the dashboard shows is the store's decision: a rep sees only their own line and
deals, a manager the team, an admin everyone.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Switch

from crm_tui.store import Actor, FixedClock, Store
from crm_tui.store.schema import migrate as schema
from crm_tui.store.schema.setup import initialise
from crm_tui.tui.app import CrmApp, make_app
from crm_tui.tui.screens.dashboard import DashboardScreen
from crm_tui.tui.screens.rules import RulesScreen
from crm_tui.tui.screens.transfer import TransferScreen
from crm_tui.tui.widgets.charts import BarChart, WeekSparks, bar_text, sparkline
from crm_tui.tui.widgets.customer_table import CustomerTable
from tests.conftest import FIXED_NOW
from tests.tui_data import pilot_test, settle, utc_local_time

SIZE = (120, 36)


def fill_team(store: Store, admin: Actor, clock: FixedClock) -> None:
    """Two teams with customers, follow-ups, deals in every stage and an open sea with history."""
    add = store.add_rep
    add(admin, "wang", "王芳", team="east")
    add(admin, "li", "李军", team="east")
    add(admin, "nora", "Nora Walker", team="west")
    add(admin, "qian", "钱东", role="manager", team="east")
    stages = ["prospecting", "qualified", "proposal", "negotiation", "won", "lost"]
    start = clock.at
    for rep_index, login in enumerate(("wang", "li", "nora")):
        rep = store.actor(login)
        for number in range(4 + rep_index * 2):
            clock.at = start - timedelta(days=25 - number * 3)
            customer = store.add_customer(rep, {"name": f"{rep.name} 客户 {number}",
                                                "company": f"Company {login} {number}"})
            store.log_follow_up(rep, customer.id, "called", next_at=(clock.today() + timedelta(days=5)))
            if number % 2 == 0:
                stage = stages[(number + rep_index) % len(stages)]
                store.add_deal(rep, customer.id, f"Deal {number}", str(10_000 * (number + 1)),
                               stage=stage)
    for number in range(6):
        clock.at = start - timedelta(days=7 * number + 1)
        store.add_customer(admin, {"name": f"公海 {number}"}, pool=True)
    clock.at = start
    store.refresh_tiers() if hasattr(store, "refresh_tiers") else None


@pytest.fixture
def team(store, admin, clock):
    with utc_local_time():
        fill_team(store, admin, clock)
        yield store, admin


def app_for(store: Store, login: str) -> CrmApp:
    return make_app(store, store.actor(login), clock=store.clock, cursor_blink=False,
                    watch_changes=False)


def rep_rows(screen: DashboardScreen) -> list[str]:
    table = screen.query_one("#dashboard-reps", DataTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


async def open_dashboard(pilot) -> DashboardScreen:
    await pilot.press("4")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, DashboardScreen)
    return screen


# --- the dashboard --------------------------------------------------------------------------------


@pilot_test
async def test_a_reps_dashboard_shows_only_their_figures(team):
    store, _admin = team
    app = app_for(store, "wang")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_dashboard(pilot)
        assert rep_rows(screen) == ["王芳 (wang)"]
        assert screen.board.scope == "own"
        assert screen.board.totals.owned == 4
        assert sum(stage.count for stage in screen.board.pipeline) == 2
        assert "My figures" in str(screen.query_one("#dashboard-status").render())
        rendered = str(screen.query_one("#chart-pipeline", BarChart).render())
        assert "prospecting" in rendered


@pilot_test
async def test_a_manager_sees_the_team_and_an_admin_everyone(team):
    store, _admin = team
    app = app_for(store, "qian")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_dashboard(pilot)
        assert rep_rows(screen) == ["李军 (li)", "钱东 (qian)", "王芳 (wang)", "Total"]
        assert screen.board.totals.owned == 10
    app = app_for(store, "boss")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_dashboard(pilot)
        assert len(rep_rows(screen)) == 6  # boss, li, nora, qian, wang + total
        assert screen.board.open_sea.size == 6
        sparks = str(screen.query_one("#chart-sea", WeekSparks).render())
        assert "6 customers" in sparks


@pilot_test
async def test_dashboard_reloads_when_customers_change(team):
    store, admin = team
    app = app_for(store, "boss")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_dashboard(pilot)
        before = screen.board.open_sea.size
        store.add_customer(admin, {"name": "公海 new"}, pool=True)
        app.customers_changed.publish(None)
        await settle(pilot)  # waits out the dashboard's reload timer and the reload
        assert screen.board.open_sea.size == before + 1


def test_bar_and_sparkline_text():
    assert bar_text(10, 10, 4) == "████"
    assert bar_text(5, 10, 4) == "██"
    assert bar_text(1, 10, 4) == "▍"
    assert bar_text(0, 10, 4) == ""
    assert sparkline([0, 5, 10]) == "▁▅█"
    assert sparkline([0, 0]) == "▁▁"


# --- the rules screen -----------------------------------------------------------------------------


@pilot_test
async def test_rules_screen_validates_and_saves(team):
    store, _admin = team
    app = app_for(store, "boss")  # company rules are the admins' (a manager reads them)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_dashboard(pilot)
        await pilot.press("R")
        await settle(pilot)
        rules = app.screen
        assert isinstance(rules, RulesScreen)
        cap = rules.query_one("#rule-private_cap", Input)
        assert cap.value == "200"
        cap.value = "lots"
        rules.query_one("#rule-recycle_after_days", Input).value = "45"
        await pilot.press("ctrl+s")
        await settle(pilot)
        error = str(rules.query_one("#rules-error").render())
        assert "private_cap" in error and "whole number" in error
        assert cap.has_class("-invalid-rule")
        assert store.rules()["recycle_after_days"] == 30  # nothing half-written
        cap.value = "150"
        rules.query_one("#rule-mask_pool_contacts", Switch).value = False
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, RulesScreen)
        saved = store.rules()
        assert (saved["private_cap"], saved["recycle_after_days"], saved["mask_pool_contacts"]) == (
            150, 45, False)
        assert any("Rules saved" in n.message for n in app._notifications)


@pilot_test
async def test_a_rep_sees_the_rules_read_only(team):
    store, _admin = team
    app = app_for(store, "wang")
    async with app.run_test(size=SIZE) as pilot:
        await open_dashboard(pilot)
        await pilot.press("R")
        await settle(pilot)
        rules = app.screen
        assert isinstance(rules, RulesScreen)
        assert rules.query_one("#rule-private_cap", Input).disabled
        assert "only an admin may change them" in str(rules.query_one("#rules-note").render())


# --- transfer -------------------------------------------------------------------------------------


@pilot_test
async def test_transfer_marked_customers_to_another_rep(team):
    store, _admin = team
    app = app_for(store, "qian")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_dashboard(pilot)
        await pilot.press("t")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TransferScreen)
        assert [rep.login for rep in screen.reps] == ["li", "qian", "wang"]  # nora is west
        screen.query_one("#transfer-from").value = "wang"
        screen.query_one("#transfer-to").value = "li"
        await settle(pilot)
        table = screen.query_one(CustomerTable)
        assert table.total == 4
        table.focus()
        await pilot.press("space", "space")  # marks rows 0 and 1
        await settle(pilot)
        marked = set(table.selected)
        assert len(marked) == 2
        assert "2 marked" in str(screen.query_one("#transfer-status").render())
        await pilot.press("ctrl+t")
        await settle(pilot)
        assert table.total == 2
        assert any("2 customers moved from wang to li" in n.message for n in app._notifications)
    qian = store.actor("qian")
    assert {store.get_customer(cid, qian).owner for cid in marked} == {"li"}


@pilot_test
async def test_transfer_refusal_is_the_stores_sentence(team):
    store, admin = team
    app = app_for(store, "boss")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_dashboard(pilot)
        await pilot.press("t")
        await settle(pilot)
        screen = app.screen
        screen.query_one("#transfer-from").value = "wang"
        screen.query_one("#transfer-to").value = "li"
        await settle(pilot)
        store.deactivate_rep(admin, "li", to_pool=True)  # meanwhile, elsewhere
        screen.query_one(CustomerTable).focus()
        await pilot.press("space", "ctrl+t")
        await settle(pilot)
        assert any("deactivated" in n.message for n in app._notifications)


@pilot_test
async def test_a_rep_cannot_open_transfer(team):
    store, _admin = team
    app = app_for(store, "wang")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_dashboard(pilot)
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert any("Only a manager" in n.message for n in app._notifications)


# --- snapshots ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def team_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("teambook") / "crm.db"
    schema.upgrade(str(path))
    clock = FixedClock(FIXED_NOW)
    with utc_local_time():
        initialise(str(path), "boss", "The Boss", clock=clock)
        store = Store(str(path), clock=clock)
        fill_team(store, store.actor("boss"), clock)
        store.close()
    return path


@pytest.fixture
def team_app(team_file: Path, tmp_path: Path) -> Iterator[callable]:
    path = tmp_path / "crm.db"
    shutil.copyfile(team_file, path)
    clock = FixedClock(FIXED_NOW)
    stores: list[Store] = []

    def build(login: str) -> CrmApp:
        store = Store(str(path), clock=clock)
        stores.append(store)
        return make_app(store, store.actor(login), clock=clock, cursor_blink=False,
                        watch_changes=False)

    with utc_local_time():
        yield build
    for store in stores:
        store.close()


def _fixed_header(pilot, who: str) -> None:
    pilot.app.sub_title = f"{who} · crm.db"


def test_snapshot_dashboard_with_charts(snap_compare, team_app):
    """The admin's dashboard at 120×36: one line per rep (CJK names) with a total, overdue and
    recycle-soon counts, the pipeline as weighted bars, tiers and RFM segments as bars, and the
    open sea's size with eight weeks of inflow and outflow as sparklines."""

    async def run_before(pilot) -> None:
        await pilot.press("4")
        await settle(pilot)
        _fixed_header(pilot, "The Boss (boss, admin)")
        await settle(pilot)

    assert snap_compare(team_app("boss"), terminal_size=SIZE, run_before=run_before)


def test_snapshot_rules_screen(snap_compare, team_app):
    """The rules screen for an admin (who alone changes them): every open-sea rule with its value
    and meaning, and the store's refusal of a bad value naming the setting."""

    async def run_before(pilot) -> None:
        await pilot.press("4")
        await settle(pilot)
        _fixed_header(pilot, "The Boss (boss, admin)")
        await pilot.press("R")
        await settle(pilot)
        pilot.app.screen.query_one("#rule-private_cap", Input).value = "-5"
        await pilot.press("ctrl+s")
        await settle(pilot)

    assert snap_compare(team_app("boss"), terminal_size=SIZE, run_before=run_before)
