"""Screen 2 driven by keyboard: *Due today* first, then the follow-up log; logging a follow-up
changes the due list and the timeline; filters by rep, channel and dates; snapshots of the due
list and of the follow-up form refusing a bad date."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Select, Static

from crm_tui.store import Actor, FixedClock, Store
from crm_tui.store.schema import migrate as schema
from crm_tui.store.schema.setup import initialise
from crm_tui.tui.app import CrmApp, make_app
from crm_tui.tui.dialogs.follow_up_form import FollowUpFormScreen
from crm_tui.tui.screens.follow_ups import FollowUpsScreen
from crm_tui.tui.screens.portrait import PortraitScreen
from crm_tui.tui.widgets.timeline import Timeline
from tests.conftest import FIXED_NOW
from tests.tui_data import fill_book, pilot_test, settle, utc_local_time

SIZE = (120, 36)


def add_team_history(store: Store, admin: Actor, ids: dict[str, int]) -> None:
    """A colleague's customer with a visit, and one of mine close to recycling."""
    store.add_rep(admin, "alice", "Alice Wang")
    alice = store.actor("alice")
    hers = store.add_customer(alice, {"name": "欧阳修", "company": "宋代文学社"})
    store.log_follow_up(alice, hers.id, "拜访：谈了合作", channel="visit",
                        at="2026-06-14T08:00:00+00:00", next_at="2026-06-30")
    store.log_follow_up(admin, ids["李娜"], "WeChat: sent the brochure", channel="wechat",
                        at="2026-06-13T03:00:00+00:00", next_at="2026-06-20")
    # 王芳 was claimed 28 days ago and never followed up: recycled in 2 days (30-day rule).
    store.clock.advance(days=-28)
    near = store.add_customer(admin, {"name": "司马光", "company": "资治通鉴出版"})
    store.clock.advance(days=28)
    ids["司马光"] = near.id


@pytest.fixture
def book(sqlite_url: str, clock) -> Iterator[tuple[Store, Actor, dict[str, int]]]:
    with utc_local_time():
        initialise(sqlite_url, "boss", "The Boss", clock=clock)
        store = Store(sqlite_url, clock=clock)
        admin = store.actor("boss")
        ids = fill_book(store, admin)
        add_team_history(store, admin, ids)
        yield store, admin, ids
        store.close()


def app_for(store: Store, actor: Actor) -> CrmApp:
    return make_app(store, actor, clock=store.clock, cursor_blink=False, watch_changes=False)


async def due_screen(pilot) -> FollowUpsScreen:
    await settle(pilot)
    await pilot.press("2")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, FollowUpsScreen)
    return screen


@pilot_test
async def test_crm_opens_on_due_today_unless_the_config_says_otherwise(book):
    """DESIGN §1: a rep's morning starts on *Due today*; ``start_screen`` picks another."""
    from crm_tui.config import Settings
    from crm_tui.tui.screens.customer_list import CustomerListScreen

    store, admin, _ids = book
    async with app_for(store, admin).run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(pilot.app.screen, FollowUpsScreen)
        assert pilot.app.screen.loads == 1 and pilot.app.screen.due_items
    app = make_app(store, admin, Settings(start_screen="customers"), clock=store.clock,
                   cursor_blink=False, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(pilot.app.screen, CustomerListScreen)


def test_a_start_screen_that_does_not_exist_is_refused(tmp_path: Path):
    from crm_tui.config import load_settings
    from crm_tui.store import UsageError

    config = tmp_path / "config.toml"
    config.write_text('start_screen = "inbox"\n', encoding="utf-8")
    with pytest.raises(UsageError, match="start_screen must be one of due, customers"):
        load_settings(config)
    config.write_text('start_screen = "open_sea"\n', encoding="utf-8")
    assert load_settings(config).start_screen == "open_sea"


@pilot_test
async def test_due_today_first_overdue_then_due_then_close_to_recycling(book):
    store, admin, ids = book
    app = app_for(store, admin)
    async with app.run_test(size=SIZE) as pilot:
        screen = await due_screen(pilot)
        assert [(i.name, i.reason) for i in screen.due_items] == [
            ("刘洋", "overdue"), ("张伟", "overdue"), ("Carla Diaz", "overdue"), ("陈静", "due"),
            ("司马光", "recycle"),
        ]
        assert screen.query_one("#due", DataTable).has_focus
        # The log: everything I (an admin) may see, newest first, the colleague's visit on top.
        assert [f.customer_name for f in screen.log_rows[:2]] == ["欧阳修", "李娜"]


@pilot_test
async def test_logging_a_follow_up_changes_the_due_list_and_the_timeline(book):
    store, admin, ids = book
    app = app_for(store, admin)
    async with app.run_test(size=SIZE) as pilot:
        screen = await due_screen(pilot)
        assert screen.due_items[0].name == "刘洋"
        await pilot.press("f")  # for the first due customer, straight from the list
        await settle(pilot)
        form = app.screen
        assert isinstance(form, FollowUpFormScreen) and form.customer_id == ids["刘洋"]
        await pilot.press(*"打过电话下周再约")
        await pilot.click("#next-1w")
        assert form.query_one("#field-next", Input).value == "2026-06-22"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is screen
        assert "刘洋" not in [i.name for i in screen.due_items]
        assert [i.name for i in screen.due_items][:2] == ["张伟", "Carla Diaz"]
        newest = screen.log_rows[0]
        assert (newest.customer_name, newest.summary, str(newest.next_at)) == (
            "刘洋", "打过电话下周再约", "2026-06-22")
        # Enter on the log's first row opens the portrait: the timeline starts with it.
        screen.query_one("#log", DataTable).focus()
        await pilot.press("enter")
        await settle(pilot)
        portrait = app.screen
        assert isinstance(portrait, PortraitScreen) and portrait.customer_id == ids["刘洋"]
        assert portrait.query_one(Timeline).follow_ups[0].summary == "打过电话下周再约"
        assert portrait.portrait.customer.next_follow_up_at.isoformat() == "2026-06-22"
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen


@pilot_test
async def test_enter_on_the_due_list_opens_that_customer(book):
    store, admin, ids = book
    app = app_for(store, admin)
    async with app.run_test(size=SIZE) as pilot:
        await due_screen(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, PortraitScreen) and app.screen.customer_id == ids["张伟"]


@pilot_test
async def test_the_log_filters_by_rep_channel_and_dates(book):
    store, admin, ids = book
    app = app_for(store, admin)
    async with app.run_test(size=SIZE) as pilot:
        screen = await due_screen(pilot)
        everything = len(screen.log_rows)
        await pilot.press("slash", *"alice")
        await settle(pilot)
        assert [f.customer_name for f in screen.log_rows] == ["欧阳修"]
        screen.query_one("#filter-rep", Input).value = ""
        screen.query_one("#filter-channel", Select).value = "wechat"
        await settle(pilot)
        assert [f.customer_name for f in screen.log_rows] == ["李娜"]
        screen.query_one("#filter-channel", Select).clear()
        screen.query_one("#filter-since", Input).value = "2026-06-14"
        await settle(pilot)
        assert [f.customer_name for f in screen.log_rows] == ["欧阳修"]
        screen.query_one("#filter-since", Input).value = ""
        screen.query_one("#filter-until", Input).value = "2026-05-31"
        await settle(pilot)
        assert len(screen.log_rows) == everything - 2
        screen.query_one("#filter-until", Input).value = "2026-13-45"
        await settle(pilot)
        status = screen.query_one("#log-status", Static)
        assert "until" in str(status.content) and status.has_class("-error")


@pilot_test
async def test_a_rep_sees_only_their_own_due_list_and_visible_log(book):
    store, _admin, _ids = book
    alice = store.actor("alice")
    app = app_for(store, alice)
    async with app.run_test(size=SIZE) as pilot:
        screen = await due_screen(pilot)
        assert screen.due_items == []
        assert [f.customer_name for f in screen.log_rows] == ["欧阳修"]


# --- snapshots --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def due_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("duebook") / "crm.db"
    schema.upgrade(str(path))
    clock = FixedClock(FIXED_NOW)
    with utc_local_time():
        initialise(str(path), "boss", "The Boss", clock=clock)
        store = Store(str(path), clock=clock)
        admin = store.actor("boss")
        ids = fill_book(store, admin)
        add_team_history(store, admin, ids)
        store.close()
    return path


@pytest.fixture
def due_app(due_book: Path, tmp_path: Path) -> Iterator[Callable[[], CrmApp]]:
    path = tmp_path / "crm.db"
    shutil.copyfile(due_book, path)
    clock = FixedClock(FIXED_NOW)
    stores: list[Store] = []

    def build() -> CrmApp:
        store = Store(str(path), clock=clock)
        stores.append(store)
        return make_app(store, store.actor("boss"), clock=clock, database_label="/srv/crm/crm.db",
                        cursor_blink=False, watch_changes=False)

    with utc_local_time():
        yield build
    for store in stores:
        store.close()


def test_due_list(snap_compare, due_app):
    """Screen 2 for The Boss: "Due today: 4 follow-ups (3 overdue), 1 close to recycling";
    刘洋 14 days overdue, 张伟 5 days overdue, Carla Diaz 3 days overdue (red), 陈静 due today
    (yellow), 司马光 recycled in 2 days, the cursor on 刘洋; then the log newest first (its
    filters appear on `/`), each row's next date before its summary: 欧阳修 by alice (visit,
    2026-06-30, 拜访：谈了合作), 李娜 (wechat), then the book's calls of 2026-05-25; "8
    follow-ups, newest first" below. The reasons are in the theme's error (overdue), warning
    (due) and primary (recycling) colours."""

    async def open_due(pilot) -> None:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)

    assert snap_compare(due_app(), terminal_size=SIZE, run_before=open_due)


def test_follow_up_form_with_a_validation_error(snap_compare, due_app):
    """`f` on 刘洋 in the due list, a summary typed, the next date `2026-02-30`, ctrl+s: the form
    stays open with the typed text, and under Next, in red, the store's message that
    '2026-02-30' is not a date; the quick choices +1d +3d +1w +2w none beneath."""

    async def bad_date(pilot) -> None:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        await pilot.press(*"电话没人接", "tab", *"2026-02-30", "ctrl+s")
        await settle(pilot)

    assert snap_compare(due_app(), terminal_size=SIZE, run_before=bad_date)
