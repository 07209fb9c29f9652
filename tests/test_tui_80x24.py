"""The TUI at 80×24, the terminal reps really have (issue 15): the footer fits, columns give way
by priority (a phone number is never cut), the forms fit with their buttons, New and Edit have a
Kind, releasing a customer with an open deal says what happens to it, the Next field says what
empty does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rich.cells import cell_len
from textual.widgets import Button, Input, Select, Static

from crm_tui.store import Actor, Store
from crm_tui.store.domain import guess_kind
from crm_tui.store.schema.setup import initialise
from crm_tui.tui.app import CrmApp, make_app
from crm_tui.tui.dialogs.customer_form import CustomerFormScreen, EditCustomerScreen
from crm_tui.tui.dialogs.release_form import ReleaseFormScreen
from crm_tui.tui.screens.portrait import PortraitScreen
from crm_tui.tui.widgets.customer_table import CustomerTable
from crm_tui.tui.widgets.footer import KeyFooter
from tests.tui_data import fill_book, pilot_test, settle, utc_local_time, wait_for

SIZE = (80, 24)


@pytest.fixture
def book(sqlite_url: str, clock) -> Iterator[tuple[Store, Actor, dict[str, int]]]:
    with utc_local_time():
        initialise(sqlite_url, "boss", "The Boss", clock=clock)
        store = Store(sqlite_url, clock=clock)
        admin = store.actor("boss")
        ids = fill_book(store, admin)
        yield store, admin, ids
        store.close()


def app_for(store: Store, actor: Actor, start_mode: str = "customers") -> CrmApp:
    return make_app(store, actor, clock=store.clock, cursor_blink=False, watch_changes=False,
                    start_mode=start_mode)


def screen_lines(app: CrmApp) -> list[str]:
    """What the terminal shows, line by line."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True,
                      force_terminal=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text().splitlines()


def footer_fits(app: CrmApp) -> None:
    footer = app.screen.query_one(KeyFooter)
    keys = [key for key in footer.children if key.display]
    assert keys, "the footer shows keys"
    assert max(key.region.right for key in keys) <= SIZE[0]
    assert "? Help" in screen_lines(app)[-1]


@pilot_test
async def test_every_screen_s_footer_fits_with_help_last(book):
    store, admin, _ids = book
    app = app_for(store, admin)
    async with app.run_test(size=SIZE) as pilot:
        for key in ("1", "2", "3", "4", "1", "enter"):
            await pilot.press(key)
            await settle(pilot)
            footer_fits(app)


@pilot_test
async def test_columns_give_way_and_no_phone_is_cut(book):
    store, admin, _ids = book
    app = app_for(store, admin)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(CustomerTable)
        shown = table.visible_columns()
        assert shown[:2] == ["name", "company"] and "phone" in shown and "next_follow_up_at" in shown
        assert "last_follow_up_at" not in shown  # gave way first
        text = "\n".join(screen_lines(app))
        for row in range(table.total or 0):
            phone = table.row_at(row).phone
            assert phone and phone in text, phone
        await pilot.press("3")
        await settle(pilot)
        sea = app.screen.query_one(CustomerTable)
        assert "phone" in sea.visible_columns() and "pool_entered_at" in sea.visible_columns()
        text = "\n".join(screen_lines(app))
        assert "****" in text and "…" not in text.split("Phone")[1].splitlines()[1]


@pilot_test
async def test_the_portrait_shows_the_whole_phone(book):
    store, admin, ids = book
    store.update_customer(admin, ids["张伟"], {"phone": "+86 157 5858 5858 ext 12"})
    app = app_for(store, admin)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_customer(ids["张伟"])
        await settle(pilot)
        assert isinstance(app.screen, PortraitScreen)
        phone = store.get_customer(ids["张伟"], admin).phone
        assert any(phone in line for line in screen_lines(app)), phone


@pilot_test
async def test_new_customer_fits_with_its_buttons_and_guesses_the_kind(book):
    store, admin, _ids = book
    app = app_for(store, admin)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, CustomerFormScreen)
        for button in form.query(Button):
            assert button.region.bottom <= SIZE[1] and button.region.right <= SIZE[0]
        await pilot.press(*"张三丰")
        await settle(pilot)
        assert form.query_one("#field-kind", Select).value == "person"
        await pilot.press(*"有限公司")
        await settle(pilot)
        assert form.query_one("#field-kind", Select).value == "company"
        # Chosen by hand, the kind stays whatever the name says.
        form.query_one("#field-kind", Select).value = "person"
        await settle(pilot)
        await pilot.press("backspace")
        await settle(pilot)
        assert form.query_one("#field-kind", Select).value == "person"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is not form
        added = store.find(admin, "张三丰有限公")[0]
        assert added.kind == "person"


@pilot_test
async def test_edit_fits_80_columns_and_changes_the_kind(book):
    store, admin, ids = book
    app = app_for(store, admin)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_customer(ids["李娜"])
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, EditCustomerScreen)
        for widget in form.query("Input, Select, Button"):
            assert widget.region.right <= SIZE[0], widget
        form.query_one("#field-kind", Select).value = "person"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert store.get_customer(ids["李娜"], admin).kind == "person"


@pilot_test
async def test_releasing_a_customer_with_an_open_deal_says_what_happens_to_it(book):
    store, admin, ids = book
    store.add_deal(admin, ids["张伟"], "ERP rollout", "330876", stage="negotiation")
    store.add_deal(admin, ids["张伟"], "Old pilot", "1000", stage="won")
    app = app_for(store, admin)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_customer(ids["张伟"])
        await settle(pilot)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ReleaseFormScreen), "release form")
        await settle(pilot)
        warning = str(app.screen.query_one("#release-deals", Static).render())
        assert "ERP rollout" in warning and "330,876" in warning and "negotiation" in warning
        assert "Old pilot" not in warning  # a won deal stays with the rep who won it
        assert "open sea" in warning and "claims" in warning


@pilot_test
async def test_no_warning_without_open_deals_and_the_next_hint_says_what_empty_does(book):
    store, admin, ids = book
    app = app_for(store, admin)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_customer(ids["李娜"])
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        hint = app.screen.query_one("#field-next", Input).placeholder
        assert "empty" in hint and "clears" in hint
        assert cell_len(hint) <= app.screen.query_one("#field-next", Input).region.width
        await pilot.press("escape", "r")
        await wait_for(pilot, lambda: isinstance(app.screen, ReleaseFormScreen), "release form")
        await settle(pilot)
        assert not app.screen.query("#release-deals")


@pytest.mark.parametrize(("name", "kind"), [
    ("周杰克", "person"), ("张三丰", "person"), ("李明", "person"), ("欧阳娜娜", "person"),
    ("Alice Martin", "person"), ("华为技术有限公司", "company"), ("阿里巴巴集团", "company"),
    ("腾讯科技", "company"), ("字节跳动", "company"), ("Acme Ltd", "company"),
    ("Initech Capital Inc.", "company"), ("Stone & Sons", "company"), ("", "company"),
])
def test_the_kind_is_guessed_from_the_name(name, kind):
    assert guess_kind(name) == kind
