"""Keys that arrive together (a paste, a laggy SSH link, ``tmux send-keys``) and the number keys.

A key that moves focus must take effect before the next key is handled, wherever it is: Tab in a
form, ctrl+u in a field, Esc leaving the search box. The tests send each burst in one ``press``
call and, to be sure a burst is not spread out by the pilot's pauses, also straight into the
app's queue as a terminal delivers it (``burst``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from textual import events
from textual.widgets import Input

from crm_tui.store import Actor, Store
from crm_tui.store.schema.setup import initialise
from crm_tui.tui.app import CrmApp, make_app
from crm_tui.tui.dialogs.follow_up_form import FollowUpFormScreen
from crm_tui.tui.screens.follow_ups import FollowUpsScreen
from tests.tui_data import fill_book, pilot_test, settle, utc_local_time

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


def app_for(store: Store, actor: Actor, start_mode: str = "due") -> CrmApp:
    return make_app(store, actor, clock=store.clock, cursor_blink=False, watch_changes=False,
                    start_mode=start_mode)


async def burst(pilot, *keys: str) -> None:
    """Put ``keys`` into the app's queue all at once, as a terminal delivers a paste, then let
    the app handle them (the pilot's ``press`` yields between keys)."""
    app = pilot.app
    for key in keys:
        char = key if len(key) == 1 else None
        name = {" ": "space", "+": "plus", "-": "minus"}.get(key, key)
        event = events.Key(name, char)
        event.set_sender(app)
        app.post_message(event)
    await settle(pilot)


async def follow_up_form(pilot) -> FollowUpFormScreen:
    await settle(pilot)
    assert isinstance(pilot.app.screen, FollowUpsScreen)
    await pilot.press("f")
    await settle(pilot)
    form = pilot.app.screen
    assert isinstance(form, FollowUpFormScreen)
    return form


def newest_follow_up(store: Store, admin: Actor, customer_id: int) -> Any:
    """The customer's latest follow-up, as saved."""
    return store.follow_up_log(admin, customer_id=customer_id, limit=1)[0]


@pytest.mark.parametrize("deliver", ["press", "burst"])
@pilot_test
async def test_a_burst_of_text_tab_text_enter_fills_each_field(book, deliver):
    """`Burst`, Tab, `+2d`, Enter in one go: Summary "Burst", Next two days on, saved."""
    store, admin, ids = book
    app = app_for(store, admin)
    async with app.run_test(size=SIZE) as pilot:
        form = await follow_up_form(pilot)
        customer_id = form.customer_id
        keys = (*"Burst", "tab", *"+2d", "enter")
        if deliver == "press":
            await pilot.press(*keys)
        else:
            await burst(pilot, *keys)
        await settle(pilot)
        assert app.screen is not form, "the form saved and closed"
        saved = newest_follow_up(store, admin, customer_id)
        assert (saved.summary, str(saved.next_at)) == ("Burst", "2026-06-17")
        assert str(store.get_customer(customer_id, admin).next_follow_up_at) == "2026-06-17"


@pytest.mark.parametrize("deliver", ["press", "burst"])
@pilot_test
async def test_a_burst_of_ctrl_u_text_enter_replaces_the_field(book, deliver):
    """In Next (holding a date), ctrl+u, `tomorrow`, Enter in one go: the date is replaced by
    tomorrow's and saved, the summary typed before kept."""
    store, admin, ids = book
    app = app_for(store, admin)
    async with app.run_test(size=SIZE) as pilot:
        form = await follow_up_form(pilot)
        customer_id = form.customer_id
        await pilot.press(*"Called", "tab", *"2026-07-09")
        await settle(pilot)
        assert form.query_one("#field-next", Input).value == "2026-07-09"
        keys = ("ctrl+u", *"tomorrow", "enter")
        if deliver == "press":
            await pilot.press(*keys)
        else:
            await burst(pilot, *keys)
        await settle(pilot)
        assert app.screen is not form, "the form saved and closed"
        saved = newest_follow_up(store, admin, customer_id)
        assert (saved.summary, str(saved.next_at)) == ("Called", "2026-06-16")


@pytest.mark.parametrize("deliver", ["press", "burst"])
@pilot_test
async def test_esc_in_the_search_box_clears_then_leaves_and_3_opens_the_open_sea(book, deliver):
    """`/`, `li`, Esc (clears), Esc (leaves the empty box), `3`: the open sea, and no search
    for "3" was typed into the list's box."""
    from crm_tui.tui.screens.customer_list import CustomerListScreen
    from crm_tui.tui.screens.open_sea import OpenSeaScreen
    from crm_tui.tui.widgets.search_bar import SearchBar

    store, admin, _ids = book
    app = app_for(store, admin, start_mode="customers")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        listing = app.screen
        assert isinstance(listing, CustomerListScreen)
        keys = ("slash", *"li", "escape", "escape", "3")
        if deliver == "press":
            await pilot.press(*keys)
        else:
            await burst(pilot, *keys)
        await settle(pilot)
        assert isinstance(app.screen, OpenSeaScreen)
        assert listing.query_one(SearchBar).value == ""
        assert not listing.query_one(SearchBar).has_focus


@pytest.mark.parametrize("deliver", ["press", "burst"])
@pilot_test
async def test_number_keys_go_to_their_screen_from_a_portrait(book, deliver):
    """A portrait opened from the list: `1` goes back to the list; then from a portrait opened
    from the list, `2` (Due today) and `1` come back to the list, not to the portrait."""
    from crm_tui.tui.screens.customer_list import CustomerListScreen
    from crm_tui.tui.screens.portrait import PortraitScreen

    store, admin, _ids = book
    app = app_for(store, admin, start_mode="customers")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PortraitScreen)
        await pilot.press("1")
        await settle(pilot)
        assert isinstance(app.screen, CustomerListScreen)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PortraitScreen)
        if deliver == "press":
            await pilot.press("2", "1")
        else:
            await burst(pilot, "2", "1")
        await settle(pilot)
        assert isinstance(app.screen, CustomerListScreen)
        await pilot.press("2")
        await settle(pilot)
        assert isinstance(app.screen, FollowUpsScreen)


@pilot_test
async def test_number_keys_in_a_text_field_are_text(book):
    """In the search box `1` is text, not the list's key."""
    from crm_tui.tui.screens.customer_list import CustomerListScreen
    from crm_tui.tui.widgets.search_bar import SearchBar

    store, admin, _ids = book
    app = app_for(store, admin, start_mode="customers")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await burst(pilot, "slash", "1", "3", "8")
        assert isinstance(app.screen, CustomerListScreen)
        assert app.screen.query_one(SearchBar).value == "138"
