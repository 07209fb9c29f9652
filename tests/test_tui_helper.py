"""The TUI as ``crm`` runs it: its store served by the helper process (``store/helper.py``).

One working session, driven by keyboard on both backends: Due today, the list and its search,
a portrait, a claim in the open sea, another client's change arriving live, the dashboard; then
leaving, after which the helper has exited.
"""

from __future__ import annotations

from crm_tui.store import Actor, Store
from crm_tui.store.helper.transport import HelpedStore, start_helper
from crm_tui.tui.app import make_app
from crm_tui.tui.screens.customer_list import CustomerListScreen
from crm_tui.tui.screens.dashboard import DashboardScreen
from crm_tui.tui.screens.follow_ups import FollowUpsScreen
from crm_tui.tui.screens.open_sea import OpenSeaScreen
from crm_tui.tui.screens.portrait import PortraitScreen
from crm_tui.tui.widgets.customer_table import CustomerTable
from tests.tui_data import fill_book, pilot_test, settle, utc_local_time, wait_for

SIZE = (120, 36)


def names(table: CustomerTable) -> list[str]:
    return [row.name for i in range(table.total or 0) if (row := table.row_at(i)) is not None]


@pilot_test
async def test_a_working_session_through_the_helper(store, admin, db_url):
    clock = store.clock
    with utc_local_time():
        ids = fill_book(store, admin)

        def opener() -> tuple[Store, Actor]:
            own = Store(db_url, clock=clock)
            return own, own.actor("boss")

        helper = start_helper(opener, lambda: Store(db_url, clock=clock), only_if_useful=False)
        assert helper is not None
        app = make_app(None, None, opener=helper.open, clock=clock, cursor_blink=False,
                       database_label="helped")
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await settle(pilot)
            assert isinstance(app.store, HelpedStore) and app.me == admin
            assert isinstance(app.screen, FollowUpsScreen)
            assert [item.name for item in app.screen.due_items][:2] == ["刘洋", "张伟"]

            await pilot.press("1")
            await settle(pilot)
            assert isinstance(app.screen, CustomerListScreen)
            table = app.screen.query_one(CustomerTable)
            assert table.total == len(ids) - 2  # the two open-sea customers are not mine
            await pilot.press("slash", "z", "w")
            await settle(pilot)
            assert names(table) == ["张伟"]
            await pilot.press("escape", "escape")  # clears the search, leaves the box
            await settle(pilot)
            await pilot.press("j", "j")
            expected = table.row_at(2)
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, PortraitScreen)
            assert app.screen.customer_id == expected.id
            assert app.screen.portrait is not None and app.screen.portrait.customer.name == expected.name
            await pilot.press("escape")
            await settle(pilot)

            await pilot.press("3")
            await settle(pilot)
            sea = app.screen
            assert isinstance(sea, OpenSeaScreen)
            sea.table.move_cursor(names(sea.table).index("单丽丽"))
            await pilot.pause()
            await pilot.press("c")
            await settle(pilot)
            assert sea.last_message == "单丽丽 is in your private sea now."
            assert "单丽丽" not in names(sea.table)

            await pilot.press("1")
            await settle(pilot)
            table = app.screen.query_one(CustomerTable)
            assert "单丽丽" in names(table)
            store.add_customer(admin, {"name": "诸葛亮"})  # another client, behind the app's back
            await wait_for(pilot, lambda: "诸葛亮" in names(table), "another client's change, live")

            await pilot.press("4")
            await settle(pilot)
            assert isinstance(app.screen, DashboardScreen) and app.screen.board is not None
        app.store.close()  # as ``crm`` does when the app has exited
        assert helper.ended.wait(10), "the helper outlived the app"
    assert store.get_customer(ids["单丽丽"], admin).owner == "boss"
