"""Pilot tests: a lost database connection shows a banner, retries, and loses nothing typed."""

from __future__ import annotations

from typing import Any

import pytest

from crm_tui.store import DatabaseUnavailable
from crm_tui.tui.widgets.connection_banner import ConnectionBanner
from crm_tui.tui.widgets.customer_table import CustomerTable
from crm_tui.tui.widgets.search_bar import SearchBar
from tests.test_pg_restart import own_cluster  # noqa: F401 - fixture
from tests.test_tui_list import SIZE, app_for, book, book_template, settle  # noqa: F401 - fixtures
from tests.tui_data import pilot_test, wait_for

SENTENCE = "The database crm.db cannot be used: server closed the connection unexpectedly."
OUTAGE_METHODS = ("ping", "count_customers", "customer_page", "add_customer")


class Outage:
    """Makes the store's methods raise ``DatabaseUnavailable`` until ``end()``."""

    def __init__(self, store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.store = store
        self.monkeypatch = monkeypatch
        self.calls: dict[str, int] = dict.fromkeys(OUTAGE_METHODS, 0)

    def begin(self) -> None:
        for name in OUTAGE_METHODS:
            self.monkeypatch.setattr(self.store, name, self._failing(name))

    def _failing(self, name: str) -> Any:
        def fail(*_args: Any, **_kwargs: Any) -> Any:
            self.calls[name] += 1
            raise DatabaseUnavailable(SENTENCE)

        return fail

    def end(self) -> None:
        for name in OUTAGE_METHODS:
            self.monkeypatch.delattr(self.store, name)  # the class's method shows through again


async def calm(pilot) -> None:
    """``settle`` for an outage: the reconnect pings go on in their worker, the rest goes quiet."""
    await settle(pilot, ignoring={"reconnect"})


def banner_text(app) -> str:
    banners = app.screen.query(ConnectionBanner)
    return " ".join(str(b.render()) for b in banners)


@pilot_test
async def test_lost_connection_shows_banner_keeps_search_text_and_recovers(book, monkeypatch):  # noqa: F811
    store, _admin, _ids = book
    app = app_for(book)
    app.RECONNECT_SECONDS = 0.1
    outage = Outage(store, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(CustomerTable)
        assert table.total and table.total > 100
        assert not app.screen.query(ConnectionBanner)  # nothing while the database answers

        outage.begin()
        await pilot.press("slash", *"Customer 001")
        await wait_for(pilot, lambda: bool(app.screen.query(ConnectionBanner)), "the banner")
        assert app.database_unavailable == SENTENCE
        assert "Database unavailable" in banner_text(app)
        assert SENTENCE in banner_text(app)
        # It keeps retrying (pings in a worker) and the banner stays while they fail.
        await wait_for(pilot, lambda: outage.calls["ping"] >= 2, "a second ping")
        assert app.screen.query(ConnectionBanner)
        # Typing goes on during the outage, and nothing typed is cleared.
        await pilot.press(*"0")
        await calm(pilot)
        search = app.screen.query_one(SearchBar)
        assert search.value == "Customer 0010"
        # Only the banner speaks: no "Refused"/"Unexpected error" toasts for each failed query.
        assert not any(n.severity == "error" for n in app._notifications)

        outage.end()
        await wait_for(pilot, lambda: app.database_unavailable is None, "reconnected")
        await settle(pilot)
        assert not app.screen.query(ConnectionBanner)
        assert any("Reconnected" in n.message for n in app._notifications)
        assert search.value == "Customer 0010"
        # The list fetched its rows again, for the text typed during the outage.
        table = app.screen.query_one(CustomerTable)
        assert table.total == 1
        assert table.row_at(0) is not None and table.row_at(0).name == "Customer 0010"


@pilot_test
async def test_failed_save_in_a_form_shows_banner_keeps_fields_and_saves_after_reconnect(
    book, monkeypatch  # noqa: F811
):
    from textual.widgets import Input

    from crm_tui.tui.dialogs.customer_form import CustomerFormScreen

    store, admin, _ids = book
    app = app_for(book)
    app.RECONNECT_SECONDS = 0.1
    outage = Outage(store, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, CustomerFormScreen)
        await pilot.press(*"周杰", "tab", *"Lost Link Ltd")
        typed = app.screen.typed_fields()

        outage.begin()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: bool(app.screen.query(ConnectionBanner)), "the banner")
        form = app.screen
        assert isinstance(form, CustomerFormScreen)  # still open, over the list
        assert outage.calls["add_customer"] == 1
        assert SENTENCE in banner_text(app)
        await wait_for(pilot, lambda: outage.calls["ping"] >= 2, "a second ping")
        assert form.typed_fields() == typed
        assert form.query_one("#field-name", Input).value == "周杰"

        outage.end()
        await wait_for(pilot, lambda: app.database_unavailable is None, "reconnected")
        await settle(pilot)
        assert not form.query(ConnectionBanner)
        assert form.typed_fields() == typed
        await pilot.press("ctrl+s")  # the same fields, saved now that the database answers
        await settle(pilot)
        assert not isinstance(app.screen, CustomerFormScreen)
    added = [r for r in store.find(admin, "周杰", scope="all", limit=10)]
    assert [(r.name, r.company) for r in added] == [("周杰", "Lost Link Ltd")]


@pilot_test
async def test_a_real_postgresql_stop_and_start_under_the_app(own_cluster):  # noqa: F811
    """The same on a throwaway PostgreSQL cluster: stopped under the running app, started again."""
    import asyncio

    from crm_tui.config import resolve_actor
    from crm_tui.store import Store
    from crm_tui.store.schema.setup import initialise
    from crm_tui.tui.app import make_app

    url = own_cluster.url("crm")
    initialise(url, "unused", "Admin", prefer_database_role=True)
    store = Store(url)
    try:
        me = resolve_actor(store)
        for name in ("Alpha Trading", "Beta Foods", "Gamma Steel"):
            store.add_customer(me, {"name": name})
        app = make_app(store, me, clock=store.clock, cursor_blink=False, watch_changes=False,
                       start_mode="customers")
        app.RECONNECT_SECONDS = 0.2
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert app.screen.query_one(CustomerTable).total == 3

            await asyncio.to_thread(own_cluster.pg_ctl, "-m", "fast", "stop")
            await pilot.press("slash", *"beta")
            await wait_for(pilot, lambda: bool(app.screen.query(ConnectionBanner)), "the banner")
            assert (app.database_unavailable or "").startswith(
                "The database 127.0.0.1/crm cannot be used: ")
            assert app.screen.query_one(SearchBar).value == "beta"

            options = (f"-p {own_cluster.port} -k {own_cluster.data.parent} "
                       "-c listen_addresses=127.0.0.1")
            await asyncio.to_thread(own_cluster.pg_ctl, "-o", options, "start")
            await wait_for(pilot, lambda: app.database_unavailable is None, "reconnected", timeout=60)
            await settle(pilot)
            assert not app.screen.query(ConnectionBanner)
            assert app.screen.query_one(SearchBar).value == "beta"
            table = app.screen.query_one(CustomerTable)
            assert table.total == 1
            assert table.row_at(0) is not None and table.row_at(0).name == "Beta Foods"
    finally:
        store.close()
