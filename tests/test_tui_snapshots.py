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
    """My private sea sorted by name (▲ on Name): Latin names first, then the Chinese names by
    pinyin (陈静, 李娜, 刘洋, 王芳, 曾小明, 张伟) with their companies aligned in one column; the
    two open-sea customers (单丽丽, 赵强) absent; overdue next follow-ups (张伟 06-10, 刘洋 06-01,
    Carla Diaz 06-12) in red; the cursor on the first row; "My customers · 9 customers" above;
    the header names The Boss (boss, admin) and /srv/crm/crm.db; the footer shows the keys,
    Enter as "enter" (not ⏎), ending in "? Help" and ^p palette."""
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
    pgdn enter, the list's / n e f c r l s S F a d, the app's q 1 2 3 4 ? ^p (q only here, not
    in the footer) — each with what it does and where it works (the table, this screen,
    everywhere); Esc and clicking a title at the end."""

    async def help_screen(pilot) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(crm_app(), terminal_size=SIZE, run_before=help_screen)


def test_new_customer_form_shows_the_store_refusal(snap_compare, crm_app):
    """`n`, a name, the phone `12`, ctrl+s: the form stays open with everything typed (Kind
    guessed "person" from 周杰), and the store's message about the phone appears in red under
    the Phone field."""

    async def bad_phone(pilot) -> None:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        await pilot.press(*"周杰", "tab", "tab", *"12", "ctrl+s")
        await settle(pilot)

    assert snap_compare(crm_app(), terminal_size=SIZE, run_before=bad_phone)


# --- 80×24: the terminal reps really have (issue 15) ------------------------------------------

SMALL = (80, 24)


def go(*keys: str):
    """A run_before: settle, press ``keys`` (each settled), settle."""

    async def run(pilot) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run


def test_80x24_customer_list(snap_compare, crm_app):
    """The list at 80×24: Name, Company, Status, Tier, Next f/u and Phone; Owner and Last f/u
    gave way; every phone whole (+442079460958, +8613800138000 …), the long company 华为技术有限公司
    shown or cut with …, never the phone; the footer on one line ending in "? Help", with
    "enter" (not ⏎) for Open and no debris after it."""
    assert snap_compare(crm_app(), terminal_size=SMALL, run_before=go())


def test_80x24_due_today(snap_compare, crm_app):
    """*Due today* at 80×24: the due list (14 days overdue 刘洋 … due today 陈静) with its reasons
    in the theme's error/warning colours, then the log with its next date (2026-06-12 …) before
    the summary ("called"), nothing cut but a long summary; the footer fits, "? Help" last."""
    assert snap_compare(crm_app(), terminal_size=SMALL, run_before=go("2"))


def test_80x24_portrait(snap_compare, crm_app):
    """Enter on the first customer: the portrait at 80×24, the card's labels and values in two
    pairs of columns, the phone +442079460958 whole on its own line, the timeline narrower on
    the right; the footer fits (esc Back, f Follow-up, e Edit, d New deal, 1–4, ? Help)."""
    assert snap_compare(crm_app(), terminal_size=SMALL, run_before=go("enter"))


def test_80x24_open_sea(snap_compare, crm_app):
    """The open sea at 80×24: Name, Region, Tier, Why in the sea, By, Entered and the masked
    phone whole (+86132****2000); Industry, Source and the last follow-up gave way; the
    detail lines under the table; the footer fits."""
    assert snap_compare(crm_app(), terminal_size=SMALL, run_before=go("3"))


def test_80x24_dashboard(snap_compare, crm_app):
    """The dashboard at 80×24: the reps table (The Boss: 9 owned, 3 overdue in the theme's error
    colour), then the three charts, lower: all six pipeline stages, the value tiers (the RFM
    segments scroll in the same column), the open sea's weeks in the theme's success/accent
    colours; the footer fits."""
    assert snap_compare(crm_app(), terminal_size=SMALL, run_before=go("4"))


def test_80x24_new_customer(snap_compare, crm_app):
    """`n`, 张三丰: New customer fits 80×24 with one line per field — Name 张三丰, Company …
    Source, Kind guessed "person" from the name — the open-sea checkbox, and Cancel and Save
    inside the frame."""

    async def new(pilot) -> None:
        await go("n")(pilot)
        await pilot.press(*"张三丰")
        await settle(pilot)

    assert snap_compare(crm_app(), terminal_size=SMALL, run_before=new)


def test_80x24_edit_scrolled_to_the_buttons(snap_compare, crm_app):
    """`e` on Alice Martin, scrolled to the end: the edit form is 80 columns wide at most, one
    column of fields (Name … Status, Kind company, Tags, Notes), each whole; Cancel and Save
    at the bottom inside the frame."""

    async def edit(pilot) -> None:
        await go("e")(pilot)
        from textual.containers import Vertical

        pilot.app.screen.query_one(Vertical).scroll_end(animate=False)
        await settle(pilot)

    assert snap_compare(crm_app(), terminal_size=SMALL, run_before=edit)
