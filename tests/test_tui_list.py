"""Pilot tests: the customer list driven by keyboard (search, sort, filter, open, jump to the end)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from crm_tui.store import Actor, Store
from crm_tui.store.schema.setup import initialise
from crm_tui.store.search.sort_key import name_sort_key
from crm_tui.tui.app import CrmApp, make_app
from crm_tui.tui.widgets.customer_table import PAGE_SIZE, CustomerTable
from tests.conftest import FIXED_NOW
from tests.tui_data import fill_book, pilot_test, settle, utc_local_time

SIZE = (120, 36)
EXTRA = 150  # with the book, more than one page of rows


@pytest.fixture(scope="module")
def book_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The book on SQLite, built once per module; each test gets a copy of the file."""
    from crm_tui.store import FixedClock
    from crm_tui.store.schema import migrate as schema
    path = tmp_path_factory.mktemp("book") / "crm.db"
    schema.upgrade(str(path))
    clock = FixedClock(FIXED_NOW)
    initialise(str(path), "boss", "The Boss", clock=clock)
    store = Store(str(path), clock=clock)
    fill_book(store, store.actor("boss"), extra=EXTRA)
    store.close()
    return path


@pytest.fixture
def book(book_template: Path, tmp_path: Path, clock) -> Iterator[tuple[Store, Actor, dict[str, int]]]:
    path = tmp_path / "crm.db"
    shutil.copyfile(book_template, path)
    with utc_local_time():
        store = Store(str(path), clock=clock)
        admin = store.actor("boss")
        ids = {r.name: r.id for r in store.find(admin, "", scope="all", limit=1000)}
        yield store, admin, ids
        store.close()


def app_for(book) -> CrmApp:
    store, admin, _ids = book
    return make_app(store, admin, clock=store.clock, cursor_blink=False, watch_changes=False,
                    start_mode="customers")


def names_in_view(table: CustomerTable, count: int = 5) -> list[str]:
    top = int(table.scroll_y)
    return [r.name for i in range(top, top + count) if (r := table.row_at(i)) is not None]


@pilot_test
async def test_list_starts_on_my_customers_sorted_by_name(book):
    app = app_for(book)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(CustomerTable)
        owned = len([row for row in book[2]]) - 2  # the two open-sea customers are not mine
        assert table.total == owned
        assert table.has_focus
        first = names_in_view(table, 3)
        assert first == sorted(first, key=name_sort_key)  # Chinese by pinyin among Latin
        assert "单丽丽" not in names_in_view(table, owned)
        assert "boss" in app.sub_title and "crm.db" in app.sub_title


@pilot_test
async def test_search_as_you_type_by_pinyin_initials(book):
    app = app_for(book)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", "z", "w")
        await settle(pilot)
        table = app.screen.query_one(CustomerTable)
        assert table.total == 1
        assert table.row_at(0).name == "张伟"
        await pilot.press("escape")  # clears the text
        await settle(pilot)
        assert table.total == len(book[2]) - 2
        await pilot.press("escape")  # leaves the search box
        assert table.has_focus


@pilot_test
async def test_search_by_one_cjk_character_and_phone_digits(book):
    app = app_for(book)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(CustomerTable)
        await pilot.press("slash", *"李")
        await settle(pilot)
        assert [table.row_at(i).name for i in range(table.total)] == ["李娜"]
        await pilot.press("backspace", *"80013")
        await settle(pilot)
        assert table.total == 1 and table.row_at(0).name == "张伟"


@pilot_test
async def test_sort_cycles_columns_and_reverses(book):
    app = app_for(book)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        table = screen.query_one(CustomerTable)
        await pilot.press("S")
        await settle(pilot)
        assert screen.listing.descending
        top = names_in_view(table, 3)
        assert top == sorted(top, key=name_sort_key, reverse=True)
        await pilot.press("s")  # name -> company
        await settle(pilot)
        assert screen.listing.sort == "company" and not screen.listing.descending
        companies = [table.row_at(i).company or "" for i in range(5)]
        assert companies == sorted(companies)


@pilot_test
async def test_filter_by_status_and_due(book):
    app = app_for(book)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(CustomerTable)
        await pilot.press("F")
        await pilot.pause()
        from textual.widgets import Select

        app.screen.query_one("#filter-status", Select).value = "intent"
        await pilot.press("ctrl+s")
        await settle(pilot)
        intent = sorted(table.row_at(i).name for i in range(table.total))
        assert intent == sorted(["张伟", "陈静", "Carla Diaz"])
        await pilot.press("d")  # due or overdue only (today is 2026-06-15)
        await settle(pilot)
        assert sorted(table.row_at(i).name for i in range(table.total)) == sorted(
            ["张伟", "陈静", "Carla Diaz"]
        )
        await pilot.press("F")
        await pilot.pause()
        await pilot.click("#clear")
        await settle(pilot)
        assert table.total == len(book[2]) - 2


@pilot_test
async def test_toggle_to_every_customer_i_may_see(book):
    app = app_for(book)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        table = app.screen.query_one(CustomerTable)
        assert table.total == len(book[2])


@pilot_test
async def test_enter_opens_the_portrait_and_escape_comes_back(book):
    from crm_tui.tui.screens.portrait import PortraitScreen

    app = app_for(book)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(CustomerTable)
        await pilot.press("j", "j")
        expected = table.row_at(2).id
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PortraitScreen)
        assert app.screen.customer_id == expected
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.query_one(CustomerTable).cursor_row == 2


@pilot_test
async def test_jump_to_the_end_loads_only_the_last_pages(book):
    app = app_for(book)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(CustomerTable)
        total = table.total
        assert total > PAGE_SIZE
        await pilot.press("G")
        await settle(pilot)
        assert table.cursor_row == total - 1
        assert table.cursor_customer is not None
        # The last by name: Chinese names sort by pinyin among the Latin ones (张伟 zhang wei).
        assert table.cursor_customer.name == "张伟"
        assert int(table.scroll_y) + table.visible_rows >= total
        await pilot.press("g")
        await settle(pilot)
        assert table.cursor_row == 0 and int(table.scroll_y) == 0
        assert table.loaded_rows <= total  # never more than its pages


@pilot_test
async def test_keys_one_to_four_switch_screens(book):
    from crm_tui.tui.screens.customer_list import CustomerListScreen
    from crm_tui.tui.screens.dashboard import DashboardScreen
    from crm_tui.tui.screens.follow_ups import FollowUpsScreen
    from crm_tui.tui.screens.open_sea import OpenSeaScreen

    app = app_for(book)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key, screen_type in (("2", FollowUpsScreen), ("3", OpenSeaScreen),
                                 ("4", DashboardScreen), ("1", CustomerListScreen)):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, screen_type)


@pilot_test
async def test_help_lists_every_design_key(book):
    from crm_tui.tui.dialogs.help import HelpScreen

    app = app_for(book)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        shown = " | ".join(f"{k.keys} {k.description}" for k in app.screen.keys)
        for key in ("/", "enter", "j", "k", "g", "G", "n", "e", "f", "c", "r", "l", "1", "2",
                    "3", "4", "?", "q", "s", "S", "F", "a", "d", "^p"):
            assert key in shown, key
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


@pilot_test
async def test_keymap_from_settings_remaps_a_binding(book):
    from crm_tui.config import Settings

    store, admin, _ids = book
    app = make_app(store, admin, Settings(keymap={"list.sort": "o"}), clock=store.clock,
                   cursor_blink=False, watch_changes=False, start_mode="customers")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        assert app.screen.listing.sort == "company"


@pilot_test
async def test_palette_jumps_to_a_customer_by_pinyin(book):
    from crm_tui.tui.screens.portrait import PortraitScreen

    store, admin, ids = book
    app = app_for(book)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"lina")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PortraitScreen)
        assert app.screen.customer_id == ids["李娜"]


@pilot_test
async def test_a_failed_worker_is_shown_not_a_crash(book):
    app = app_for(book)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)

        def broken() -> None:
            raise RuntimeError("disk on fire")

        app.screen.run_worker(broken, thread=True, exit_on_error=False, name="test task")
        await settle(pilot)
        assert app.is_running
        messages = [n.message for n in app._notifications]
        assert any("disk on fire" in m for m in messages)


def test_clock_is_the_fixed_one(book):
    app = app_for(book)
    assert app.today() == FIXED_NOW.date()


@pilot_test
async def test_new_customer_refused_then_saved_keeps_what_was_typed(book):
    from textual.widgets import Input, Static

    from crm_tui.tui.dialogs.customer_form import CustomerFormScreen

    store, admin, _ids = book
    app = app_for(book)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(CustomerTable)
        before = table.total
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, CustomerFormScreen)
        await pilot.press(*"周杰", "tab", *"周氏", "tab", *"12", "ctrl+s")
        await settle(pilot)
        assert app.screen is form  # refused: still open
        phone_error = form.query_one("#error-phone", Static)
        assert phone_error.has_class("-shown") and "12" in str(phone_error.render())
        assert not form.query_one("#error-name", Static).has_class("-shown")
        assert form.typed_fields()["name"] == "周杰" and form.typed_fields()["company"] == "周氏"
        # Same phone as 张伟: the duplicate check names the owner.
        form.query_one("#field-phone", Input).value = "138 0013 8000"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form
        assert "already exists" in str(form.query_one("#form-error", Static).render())
        assert form.typed_fields()["name"] == "周杰"
        form.query_one("#field-phone", Input).value = "13100131000"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, CustomerFormScreen)
        assert table.total == before + 1
        assert [c.name for c in store.find(admin, "周杰")] == ["周杰"]


@pilot_test
async def test_recycle_runs_at_start_off_the_event_loop(book, monkeypatch):
    import threading

    store, _admin, _ids = book
    calls: list[str] = []

    def recycle_if_stale(actor):
        calls.append(threading.current_thread().name)
        return []

    monkeypatch.setattr(store, "recycle_if_stale", recycle_if_stale, raising=False)
    app = app_for(book)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert len(calls) == 1
        assert calls[0] != threading.main_thread().name


@pilot_test
async def test_palette_opens_the_import_screen(book):
    from crm_tui.tui.screens.import_screen import ImportScreen

    app = app_for(book)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"import")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ImportScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, ImportScreen)
