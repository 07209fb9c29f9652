"""Live updates: another process's write shows in an open list without a restart (both backends)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from crm_tui.store.db.live import ChangeWatcher, parse_payload
from crm_tui.tui.app import make_app
from crm_tui.tui.widgets.customer_table import CustomerTable
from tests.tui_data import pilot_test

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
async def test_another_process_write_appears_in_the_open_list(store, admin, db_url):
    store.add_customer(admin, {"name": "欧阳娜娜"})
    app = make_app(store, admin, cursor_blink=False, start_mode="customers")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause(0.3)
        await app.workers.wait_for_complete()
        await pilot.pause(0.1)
        table = app.screen.query_one(CustomerTable)
        assert names(table) == ["欧阳娜娜"]
        await pilot.pause(0.6)  # the watcher has connected and taken its first reading
        write_from_another_process(db_url, "诸葛亮")
        deadline = time.monotonic() + 10
        while "诸葛亮" not in names(table) and time.monotonic() < deadline:
            await pilot.pause(0.1)
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
        time.sleep(0.5)  # connected and listening
        write_from_another_process(db_url, "Zed Co")
        assert changed.wait(10)
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
