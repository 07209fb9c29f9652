"""Snapshots of the TUI at 120×36 over a fixed book with CJK names (review them as pictures).

Update with ``pytest tests/test_tui_snapshots.py --snapshot-update`` after looking at the
differences in ``snapshot_report.html``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crm_tui.store import FixedClock, Store
from crm_tui.store.schema import migrate as schema
from crm_tui.store.schema.setup import initialise
from crm_tui.tui.app import CrmApp, make_app
from tests.conftest import FIXED_NOW
from tests.tui_data import fill_book, settle, utc_local_time

SIZE = (120, 36)


@pytest.fixture(scope="module")
def book_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("snapbook") / "crm.db"
    schema.upgrade(str(path))
    clock = FixedClock(FIXED_NOW)
    with utc_local_time():
        initialise(str(path), "boss", "The Boss", clock=clock)
        store = Store(str(path), clock=clock)
        fill_book(store, store.actor("boss"))
        store.close()
    return path


@pytest.fixture
def crm_app(book_file: Path, tmp_path: Path) -> Iterator[Callable[[], CrmApp]]:
    """Builds the app the way ``crm`` does, over a copy of the book, with nothing left to chance."""
    path = tmp_path / "crm.db"
    shutil.copyfile(book_file, path)
    clock = FixedClock(FIXED_NOW)
    stores: list[Store] = []

    def build() -> CrmApp:
        store = Store(str(path), clock=clock)
        stores.append(store)
        return make_app(store, store.actor("boss"), clock=clock, database_label="/srv/crm/crm.db",
                        cursor_blink=False, watch_changes=False, start_mode="customers")

    with utc_local_time():
        yield build
    for store in stores:
        store.close()


def test_customer_list(snap_compare, crm_app):
    """My private sea sorted by name (▲ on Name): Latin names first, then 张伟, 李娜, 王芳, 刘洋,
    陈静, 曾小明 with their companies aligned in one column; the two open-sea customers (单丽丽,
    赵强) absent; overdue next follow-ups (张伟 06-10, 刘洋 06-01, Carla Diaz 06-12) in red;
    the cursor on the first row; "My customers · 9 customers" above; the header names
    The Boss (boss, admin) and /srv/crm/crm.db; the footer shows the keys."""
    assert snap_compare(crm_app(), terminal_size=SIZE, run_before=settle)


def test_search_results(snap_compare, crm_app):
    """`a` (all I may see), `/`, `l`: the five customers with a word or pinyin starting with l —
    Alice Martin (Acme Ltd), 刘洋 (liu), 单丽丽 (li; open sea, so its phone is masked and the owner
    reads "(open sea)"), 曾小明 (京东物流: liu), 李娜 (li) — "5 customers" above; the search box
    shows `l` with its cursor; the footer shows the search box's keys."""

    async def search(pilot) -> None:
        await settle(pilot)
        await pilot.press("a", "slash", "l")
        await settle(pilot)

    assert snap_compare(crm_app(), terminal_size=SIZE, run_before=search)


def test_help_screen(snap_compare, crm_app):
    """`?` over the list: a framed table of every key — the table's ↑/k ↓/j home/g end/G pgup
    pgdn ⏎, the list's / n e f c r l s S F a d, the app's q 1 2 3 4 ? ^p — each with what it does
    and where it works (the table, this screen, everywhere); Esc and clicking a title at the end."""

    async def help_screen(pilot) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(crm_app(), terminal_size=SIZE, run_before=help_screen)


def test_new_customer_form_shows_the_store_refusal(snap_compare, crm_app):
    """`n`, a name, the phone `12`, ctrl+s: the form stays open with everything typed, and the
    store's message about the phone appears in red under the Phone field."""

    async def bad_phone(pilot) -> None:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        await pilot.press(*"周杰", "tab", "tab", *"12", "ctrl+s")
        await settle(pilot)

    assert snap_compare(crm_app(), terminal_size=SIZE, run_before=bad_phone)
