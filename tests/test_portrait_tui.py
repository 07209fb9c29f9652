"""The customer portrait driven by keyboard: edit (and its refusals), the optimistic-lock conflict
between two sessions, a new deal moving the value figures, the duplicate warning on create; and
a snapshot of a CJK customer with a long history."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from crm_tui.store import Actor, FixedClock, Store
from crm_tui.store.schema import migrate as schema
from crm_tui.store.schema.setup import initialise
from crm_tui.tui.app import CrmApp, make_app
from crm_tui.tui.dialogs.customer_form import ConflictScreen, EditCustomerScreen
from crm_tui.tui.dialogs.deal_forms import DealFormScreen, MoveStageScreen
from crm_tui.tui.screens.portrait import FOLLOW_UP_WINDOW, PortraitScreen
from crm_tui.tui.widgets.timeline import Timeline
from crm_tui.tui.widgets.value_badges import ValueBadges
from tests.conftest import FIXED_NOW
from tests.tui_data import fill_book, pilot_test, settle, utc_local_time

SIZE = (120, 36)
CHANNELS = ("call", "visit", "wechat", "email", "meeting")
SUMMARIES = ("电话沟通，客户想要报价", "上门拜访，见了采购部王经理", "微信发了产品手册",
             "Sent the revised quote", "季度会议：讨论续约")
LONG_HISTORY = FOLLOW_UP_WINDOW + 12


def add_long_history(store: Store, admin: Actor) -> int:
    """欧阳娜娜 of 深圳前海微众银行: came from the open sea, contacts, deals, 62 follow-ups."""
    customer = store.add_customer(
        admin,
        {"name": "欧阳娜娜", "company": "深圳前海微众银行", "phone": "13912345678",
         "email": "nana@webank.example", "industry": "金融", "region": "深圳", "source": "展会"},
        pool=True, tags=["vip", "金融"],
    )
    store.claim(customer.id, admin)
    store.update_customer(admin, customer.id, {"notes": "决策人是CFO；预算在Q3批。"})
    store.add_contact(admin, customer.id, {"name": "李雷", "title": "CFO", "phone": "13700001111",
                                           "email": "lilei@webank.example", "is_primary": True})
    store.add_contact(admin, customer.id, {"name": "韩梅梅", "title": "采购经理", "wechat": "hanmm"})
    store.add_deal(admin, customer.id, "核心系统升级", "1200000", stage="won")
    store.add_deal(admin, customer.id, "灾备方案", "300000", stage="negotiation",
                   expected_close="2026-08-31")
    for number in range(LONG_HISTORY, 0, -1):
        store.log_follow_up(
            admin, customer.id, SUMMARIES[number % len(SUMMARIES)],
            channel=CHANNELS[number % len(CHANNELS)],
            at=FIXED_NOW.replace(hour=8, minute=15) - timedelta(days=number, hours=number % 5),
            next_at="2026-06-22" if number == 1 else None,
        )
    store.refresh_tiers()
    return customer.id


@pytest.fixture
def book(sqlite_url: str, clock) -> Iterator[tuple[Store, Actor, dict[str, int]]]:
    with utc_local_time():
        initialise(sqlite_url, "boss", "The Boss", clock=clock)
        store = Store(sqlite_url, clock=clock)
        admin = store.actor("boss")
        ids = fill_book(store, admin)
        yield store, admin, ids
        store.close()


def app_for(store: Store, actor: Actor) -> CrmApp:
    return make_app(store, actor, clock=store.clock, cursor_blink=False, watch_changes=False,
                    start_mode="customers")


async def open_portrait(pilot, customer_id: int) -> PortraitScreen:
    await settle(pilot)
    pilot.app.open_customer(customer_id)
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, PortraitScreen) and screen.portrait is not None
    return screen


def field_error(screen, key: str) -> str:
    return str(screen.query_one(f"#error-{key}", Static).content)


# --- pilot tests ------------------------------------------------------------------------------


@pilot_test
async def test_edit_with_a_bad_email_shows_the_message_beside_the_field(book):
    store, admin, ids = book
    app = app_for(store, admin)
    async with app.run_test(size=SIZE) as pilot:
        await open_portrait(pilot, ids["李娜"])
        await pilot.press("e")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, EditCustomerScreen)
        form.query_one("#field-email", Input).focus()
        await pilot.press(*"lina@@alibaba", "ctrl+s")
        await settle(pilot)
        assert app.screen is form  # still open
        assert "not a valid email address" in field_error(form, "email")
        assert form.query_one("#field-email", Input).value == "lina@@alibaba"  # kept as typed
        assert form.query_one("#field-email", Input).has_focus
        assert field_error(form, "name") == ""
        # Fix it and save: the portrait shows the new email.
        form.query_one("#field-email", Input).value = "lina@alibaba.example"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, PortraitScreen)
        assert app.screen.portrait.customer.email == "lina@alibaba.example"
    assert store.get_customer(ids["李娜"], admin).email == "lina@alibaba.example"


@pilot_test
async def test_a_lost_optimistic_lock_race_asks_and_never_overwrites_silently(book, sqlite_url):
    store, admin, ids = book
    customer_id = ids["王芳"]
    other_session = Store(sqlite_url, clock=store.clock)  # a second client on the same database
    store.add_rep(admin, "mgr", "Mary Manager", role="admin")
    mary = other_session.actor("mgr")
    app = app_for(store, admin)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await open_portrait(pilot, customer_id)
            await pilot.press("e")
            await settle(pilot)
            form = app.screen
            assert isinstance(form, EditCustomerScreen)
            region = form.query_one("#field-region", Input)
            region.value = "深圳"
            # Meanwhile, in the other session:
            other_session.update_customer(mary, customer_id, {"region": "上海"})
            await pilot.press("ctrl+s")
            await settle(pilot)
            dialog = app.screen
            assert isinstance(dialog, ConflictScreen)
            message = str(dialog.query_one("#conflict-message", Static).content)
            assert "changed by mgr" in message and "2026-06-15 09:30" in message
            assert store.get_customer(customer_id, admin).region == "上海"  # nothing overwritten

            await pilot.press("escape")  # cancel: back to the form, what I typed still there
            await settle(pilot)
            assert app.screen is form and region.value == "深圳"
            assert "Changed by mgr" in str(form.query_one("#form-error", Static).content)

            await pilot.press("ctrl+s")  # still stale: asked again
            await settle(pilot)
            assert isinstance(app.screen, ConflictScreen)
            await pilot.press("r")  # reload: theirs
            await settle(pilot)
            assert app.screen is form and region.value == "上海"

            region.value = "广州"
            other_session.update_customer(mary, customer_id, {"industry": "互联网"})
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, ConflictScreen)
            await pilot.press("k")  # keep mine: saved over theirs, deliberately
            await settle(pilot)
            assert isinstance(app.screen, PortraitScreen), str(form.query_one("#form-error", Static).content)
            saved = store.get_customer(customer_id, admin)
            assert (saved.region, saved.industry) == ("广州", "互联网")  # their other change stays
    finally:
        other_session.close()


@pilot_test
async def test_a_new_deal_and_a_won_stage_change_the_value_figures(book):
    store, admin, ids = book
    customer_id = ids["陈静"]
    app = app_for(store, admin)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_portrait(pilot, customer_id)
        assert screen.portrait.value.potential == Decimal("0.00")
        assert screen.portrait.value.established == Decimal("0.00")
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, DealFormScreen)
        await pilot.press(*"智能工厂", "tab", *"abc", "ctrl+s")
        await settle(pilot)
        assert "not an amount" in field_error(app.screen, "amount")
        app.screen.query_one("#field-amount", Input).value = "80000"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is screen
        assert screen.portrait.value.potential == Decimal("8000.00")  # prospecting, 10 %
        assert screen.query_one(ValueBadges).value.potential == Decimal("8000.00")  # drawn
        await pilot.press("s")  # move the stage: the form proposes "won"
        await settle(pilot)
        assert isinstance(app.screen, MoveStageScreen)
        await pilot.press("ctrl+s")
        await settle(pilot)
        value = screen.portrait.value
        assert (value.established, value.potential) == (Decimal("80000.00"), Decimal("0.00"))
        assert value.tier == "A"  # the tiers were refreshed in the background
        assert value.rfm_segment == "new"
        assert screen.portrait.customer.status == "deal"


@pilot_test
async def test_duplicate_warning_on_create_names_the_owner(book):
    store, admin, ids = book
    store.add_rep(admin, "alice", "Alice Wang")
    alice = store.actor("alice")
    app = app_for(store, alice)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        await pilot.press(*"张伟")
        form = app.screen
        # 张伟's phone: the same customer (a name alone is no duplicate: issue 14 item 7).
        form.query_one("#field-phone", Input).value = "13800138000"
        await pilot.press("ctrl+s")
        await settle(pilot)
        message = str(form.query_one("#form-error", Static).content)
        assert "already exists" in message and "owned by The Boss (boss)" in message
        assert form.query_one("#field-name", Input).value == "张伟"  # kept as typed
    assert store.customer_count() == len(ids)


@pilot_test
async def test_claim_release_and_lock_keys_follow_the_open_sea_rules(book):
    store, admin, ids = book
    customer_id = ids["赵强"]  # in the open sea
    app = app_for(store, admin)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_portrait(pilot, customer_id)
        assert screen.check_action("claim", ()) and not screen.check_action("release", ())
        assert not screen.check_action("follow_up", ())
        await pilot.press("c")
        await settle(pilot)
        assert screen.portrait.customer.owner == "boss"
        await pilot.press("l")
        await settle(pilot)
        assert screen.portrait.customer.locked
        await pilot.press("r")
        await settle(pilot)
        release = app.screen
        release.query_one("#field-reason", Input).value = "预算取消"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is screen
        assert screen.portrait.customer.owner is None
        assert screen.portrait.ownership[0].kind == "released"
        assert "预算取消" in screen.portrait.ownership[0].reason


@pilot_test
async def test_intent_from_the_list_opens_the_form_and_the_timeline_grows(book):
    store, admin, ids = book
    app = app_for(store, admin)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_customer(ids["张伟"], intent="follow_up")
        await settle(pilot)
        await pilot.press(*"见面聊了方案", "ctrl+s")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PortraitScreen)
        timeline = screen.query_one(Timeline)
        assert timeline.follow_ups[0].summary == "见面聊了方案"
        assert len(timeline.follow_ups) == 2


@pilot_test
async def test_a_long_history_shows_a_window_and_m_shows_all(book):
    store, admin, _ids = book
    customer_id = add_long_history(store, admin)
    app = app_for(store, admin)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_portrait(pilot, customer_id)
        timeline = screen.query_one(Timeline)
        assert len(timeline.follow_ups) == FOLLOW_UP_WINDOW
        assert timeline.more == LONG_HISTORY - FOLLOW_UP_WINDOW
        await pilot.press("m")
        await settle(pilot)
        assert len(timeline.follow_ups) == LONG_HISTORY and timeline.more == 0


# --- snapshots --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def long_book(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    path = tmp_path_factory.mktemp("portraitbook") / "crm.db"
    schema.upgrade(str(path))
    clock = FixedClock(FIXED_NOW)
    with utc_local_time():
        initialise(str(path), "boss", "The Boss", clock=clock)
        store = Store(str(path), clock=clock)
        admin = store.actor("boss")
        fill_book(store, admin)
        customer_id = add_long_history(store, admin)
        store.close()
    return path, customer_id


@pytest.fixture
def portrait_app(long_book, tmp_path: Path) -> Iterator[Callable[[], CrmApp]]:
    source, _customer_id = long_book
    path = tmp_path / "crm.db"
    shutil.copyfile(source, path)
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


def test_portrait_of_a_cjk_customer_with_a_long_history(snap_compare, portrait_app, long_book):
    """欧阳娜娜 #12 of 深圳前海微众银行 with an A tier badge: owner The Boss, status deal, last
    follow-up 1 day ago, next 2026-06-22 (in 7 days), recycling "exempt" (won deal), where
    金融 · 深圳 and source 展会; phone +8613912345678 and email nana@webank.example each whole
    on a line of its own; value line
    established 1,200,000.00 and potential 225,000.00, RFM "new", tier A, completeness 89 %
    with "missing: address";
    tags vip and 金融, the CFO note; contacts 李雷 ★ (CFO) and 韩梅梅; deals 灾备方案
    (negotiation 75%) and 核心系统升级 (won); ownership history: claimed by boss, created in the
    open sea. Right: "Follow-ups (32)  m: show all" (the newest 20 drawn), the newest first
    (2026-06-14), CJK summaries aligned under each heading."""
    _path, customer_id = long_book

    async def open_it(pilot) -> None:
        await settle(pilot)
        pilot.app.open_customer(customer_id)
        await settle(pilot)

    assert snap_compare(portrait_app(), terminal_size=SIZE, run_before=open_it)


# --- crm show draws the same portrait -----------------------------------------------------------


def test_crm_show_portrait_has_the_screen_sections_in_order_and_text_literally(book):
    from rich.console import Console

    from crm_tui.present.portrait import portrait_text

    store, admin, _ids = book
    customer_id = add_long_history(store, admin)
    store.update_customer(admin, customer_id, {"notes": "[bold]not markup[/bold]"})
    view = store.portrait_view(admin, customer_id, follow_up_limit=5)
    console = Console(width=120, record=True, color_system=None)
    console.print(portrait_text(view.portrait, today=FIXED_NOW.date(),
                                more_follow_ups=view.older_follow_ups))
    text = console.export_text()
    order = ["欧阳娜娜", "owner", "next follow-up", "established", "completeness", "tags",
             "Contacts", "Deals", "Follow-ups", "Ownership history"]
    positions = [text.index(word) for word in order]
    assert positions == sorted(positions)
    assert "1,200,000.00" in text and "225,000.00" in text
    assert "2026-06-22 (in 7 days)" in text and "1 day ago" in text
    assert "missing: address" in text
    assert "[bold]not markup[/bold]" in text
    assert f"… {LONG_HISTORY - 5} older follow-ups" in text
