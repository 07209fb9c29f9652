"""Live updates: another process's write shows in an open list without a restart (both backends)."""

from __future__ import annotations

import subprocess
import sys
import threading

from crm_tui.store.db.live import ChangeWatcher, parse_payload
from crm_tui.tui.app import make_app
from crm_tui.tui.widgets.customer_table import CustomerTable
from tests.tui_data import SETTLE_TIMEOUT, pilot_test, settle, wait_for

WRITER = """
import sys
from crm_tui.store import Store
store = Store(sys.argv[1])
store.add_customer(store.actor("boss"), {"name": sys.argv[2]})
store.close()
"""


def write_from_another_process(url: str, name: str) -> None:
    subprocess.run([sys.executable, "-c", WRITER, url, name], check=True, timeout=60)


def names(table: CustomerTable) -> list[str]:
    return [row.name for i in range(table.total or 0) if (row := table.row_at(i)) is not None]


@pilot_test
async def test_another_process_write_appears_in_the_open_list(store, admin, db_url, monkeypatch):
    store.add_customer(admin, {"name": "欧阳娜娜"})
    watchers: list[ChangeWatcher] = []
    watch = store.watch

    def watch_and_keep(on_change):
        watcher = watch(on_change)
        watchers.append(watcher)
        return watcher

    monkeypatch.setattr(store, "watch", watch_and_keep)
    app = make_app(store, admin, cursor_blink=False, start_mode="customers")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(CustomerTable)
        assert names(table) == ["欧阳娜娜"]
        await wait_for(pilot, lambda: bool(watchers) and watchers[0].listening.is_set(),
                       "the app's change watcher listening")
        write_from_another_process(db_url, "诸葛亮")
        await wait_for(pilot, lambda: "诸葛亮" in names(table), "the other process's customer")
        await settle(pilot)
        assert sorted(names(table)) == sorted(["欧阳娜娜", "诸葛亮"])
        assert table.cursor_row == 0


def test_watcher_reports_a_commit_by_another_connection(store, admin, db_url):
    seen: list[frozenset[int] | None] = []
    changed = threading.Event()

    def record(ids: frozenset[int] | None) -> None:
        seen.append(ids)
        changed.set()

    watcher = ChangeWatcher(store, record, interval=0.1)
    watcher.start()
    try:
        assert watcher.listening.wait(SETTLE_TIMEOUT), "the watcher never connected"
        write_from_another_process(db_url, "Zed Co")
        assert changed.wait(SETTLE_TIMEOUT)
    finally:
        watcher.stop()
    assert not watcher.running
    created = store.find(admin, "Zed Co")[0].id
    if store.is_sqlite:
        assert seen[0] is None  # data_version says "something changed", not what
    else:
        assert any(ids and created in ids for ids in seen)


def test_payload_parsing():
    assert parse_payload("3,17,42") == frozenset({3, 17, 42})
    assert parse_payload("*") is None
    assert parse_payload("") is None
