"""Duplicates that help (issue 14 item 7), on SQLite and PostgreSQL.

A duplicate is the same phone, the same email, or the same name at the same company (unless
both phones are known and differ), or a near name with the same phone; a name alone never is.
The strongest match is the one a refusal names, and the refusal says whether ``force`` would
add the look-alike (the screens offer "add anyway" from that, never deciding it themselves).
The importer and the PostgreSQL function behind row-level security follow the one rule.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import text

from crm_tui.store import AlreadyExists, Store
from crm_tui.store.customers.duplicates import (
    DuplicateKeys,
    duplicates_select,
    match_key,
    match_reasons,
)

OWN_PHONE = "13800138539"
THEIR_PHONE = "13900139001"


@pytest.fixture
def book(store: Store, make_rep):
    """杨涛's 魏博 (a person, no company) and the rep's own 魏博 with another phone."""
    yang = make_rep("yangtao", name="杨涛")
    rep = make_rep("weirep", name="Rep")
    theirs = store.add_customer(yang, {"name": "魏博", "kind": "person", "phone": THEIR_PHONE})
    own = store.add_customer(rep, {"name": "魏博", "kind": "person", "phone": OWN_PHONE})
    return yang, rep, theirs.id, own.id


def test_a_common_name_with_a_new_phone_is_added(store: Store, book):
    _yang, rep, _theirs, _own = book
    added = store.add_customer(rep, {"name": "魏博", "phone": "13700137000"})
    assert added.owner == "weirep"
    # Typed as in the New customer form (no kind: a company by default) and with no phone.
    assert store.add_customer(rep, {"name": "魏博", "kind": "person"}).owner == "weirep"


def test_the_phone_match_is_named_not_another_reps_namesake(store: Store, book):
    _yang, rep, _theirs, own = book
    with pytest.raises(AlreadyExists) as refused:
        store.add_customer(rep, {"name": "魏博", "phone": f"+86 {OWN_PHONE}"})
    assert f"(same phone) as customer {own}, owned by you" in str(refused.value)
    assert "杨涛" not in str(refused.value)
    assert refused.value.customer_id == own
    assert refused.value.force_allowed and refused.value.merge_allowed
    forced = store.add_customer(rep, {"name": "魏博", "phone": OWN_PHONE}, force=True)
    assert forced.owner == "weirep"


def test_another_reps_phone_is_refused_even_with_force(store: Store, book):
    _yang, rep, theirs, _own = book
    for force in (False, True):
        with pytest.raises(AlreadyExists) as refused:
            store.add_customer(rep, {"name": "Wei Bo", "phone": THEIR_PHONE}, force=force)
        assert "(same phone), owned by 杨涛 (yangtao)" in str(refused.value)
        assert refused.value.customer_id is None and not refused.value.force_allowed
        assert str(theirs) not in str(refused.value).replace("(yangtao)", "")


def test_same_name_counts_only_at_the_same_company(store: Store, make_rep):
    yang = make_rep("yangtao", name="杨涛")
    rep = make_rep("weirep")
    store.add_customer(yang, {"name": "张伟", "kind": "person", "company": "华为技术有限公司"})
    # Another company, or none: another 张伟.
    store.add_customer(rep, {"name": "张伟", "kind": "person", "company": "腾讯"})
    store.add_customer(rep, {"name": "张伟", "kind": "person"})
    # The same company, whatever its legal form: the same 张伟, owned by 杨涛.
    with pytest.raises(AlreadyExists) as refused:
        store.add_customer(rep, {"name": "张 伟", "kind": "person", "company": "华为技术公司"})
    assert "(same name and company), owned by 杨涛 (yangtao)" in str(refused.value)
    # ... unless both phones are known and differ: two phones, two people.
    store.add_customer(yang, {"name": "李娜", "kind": "person", "company": "Acme",
                              "phone": "13600136000"})
    assert store.add_customer(rep, {"name": "李娜", "kind": "person", "company": "Acme Ltd",
                                    "phone": "13600136001"}).owner == "weirep"


def test_a_company_is_its_own_company(store: Store, make_rep):
    alice = make_rep("alice")
    store.add_customer(alice, {"name": "Acme Ltd"})
    with pytest.raises(AlreadyExists, match="same name and company"):
        store.add_customer(alice, {"name": "ACME Inc."})
    assert match_key("华为技术有限公司", "company", "华为") == match_key("华为技术", "company", None)


def test_the_strongest_match_is_named_and_a_colleagues_weaker_one_blocks_force(store, make_rep):
    yang = make_rep("yangtao", name="杨涛")
    rep = make_rep("weirep")
    store.add_customer(yang, {"name": "魏博", "kind": "person", "company": "Initech"})
    own = store.add_customer(rep, {"name": "Bo Wei", "kind": "person", "phone": OWN_PHONE})
    fields = {"name": "魏博", "kind": "person", "company": "Initech", "phone": OWN_PHONE}
    with pytest.raises(AlreadyExists) as refused:
        store.add_customer(rep, fields, force=True)
    message = str(refused.value)
    assert message.startswith(f"This customer already exists (same phone) as customer {own.id}")
    assert "杨涛 (yangtao) (same name and company)" in message
    assert not refused.value.force_allowed


def test_an_edit_into_a_colleagues_customer_is_refused(store: Store, make_rep):
    yang = make_rep("yangtao", name="杨涛")
    rep = make_rep("weirep")
    store.add_customer(yang, {"name": "王芳", "kind": "person", "company": "Hooli"})
    mine = store.add_customer(rep, {"name": "王芳", "kind": "person", "company": "Initech"})
    with pytest.raises(AlreadyExists, match="same name and company"):
        store.update_customer(rep, mine.id, {"company": "Hooli"})
    assert store.update_customer(rep, mine.id, {"company": "Globex"}).company == "Globex"


def test_reasons_strongest_first():
    one = DuplicateKeys.of("魏博", "person", None, "+8613800138000", "wb@example.com")
    near = DuplicateKeys.of("魏 博", "person", None, "+8613800138000", None)
    assert match_reasons(one, near) == ["phone", "similar name and phone"]
    assert match_reasons(one, DuplicateKeys.of("魏博", "person", None, "+8613900139000", None)) == []
    at = DuplicateKeys.of("魏博", "person", "Acme", None, "wb@example.com")
    assert match_reasons(at, DuplicateKeys.of("魏博", "person", "ACME Ltd", None,
                                              "wb@example.com")) == ["email", "name and company"]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_the_importer_follows_the_same_rule(store: Store, book, tmp_path):
    _yang, rep, _theirs, own = book
    path = write_csv(tmp_path / "leads.csv", [
        ["name", "phone", "kind"],
        ["魏博", "13700137001", "个人"],     # a namesake with another phone: added
        ["魏 博", OWN_PHONE, "个人"],        # a near name with the rep's own phone: a duplicate
        ["魏博", THEIR_PHONE, "个人"],       # 杨涛's phone: already exists, owned by 杨涛
        ["魏博", "13700137001", "个人"],     # the first row again (same phone): a duplicate
    ])
    report = store.import_file(rep, path)
    outcome = {p["row"]: p["reason"] for p in report.problems}
    assert report.added == 1
    assert outcome[3] == f"duplicate of customer {own} (same phone), owned by you"
    assert outcome[4] == "already exists (same phone), owned by 杨涛 (yangtao)"
    assert outcome[5] == "duplicate of row 2 of this file (same phone)"


def test_the_database_function_is_the_same_select(store: Store, admin, db_url):
    """On PostgreSQL, the SECURITY DEFINER function row-level security reads through is built
    from ``duplicates_select``: a namesake is not returned, a phone or a name at a company is."""
    if store.is_sqlite:
        with store.read() as conn:
            assert conn.execute(duplicates_select(None, None, None, None)).all() == []
        return
    with store.read() as conn:
        me = conn.execute(text("SELECT current_user")).scalar()
    store.add_rep(admin, me, "Me")
    person = store.add_customer(admin, {"name": "魏博", "kind": "person", "phone": THEIR_PHONE})
    at = store.add_customer(admin, {"name": "魏博", "kind": "person", "company": "Initech",
                                    "phone": "13600136000"})
    query = text("SELECT id, phone, match_key FROM crm_duplicate_owners(:m, :p, NULL, NULL)")
    with store.read() as conn:
        def ids(match: str | None, phone: str | None) -> set[int]:
            return {row.id for row in conn.execute(query, {"m": match, "p": phone})}

        assert ids(match_key("魏博", "person", None), "+8613700137000") == set()
        assert ids(None, "+86" + THEIR_PHONE) == {person.id}
        assert ids(match_key("魏博", "person", "Initech Ltd"), None) == {at.id}
        assert ids(match_key("魏博", "person", "Initech"), "+8613700137000") == set()  # 2 phones
        assert ids(match_key("魏博", "person", "Initech"), "+8613600136000") == {at.id}


def test_an_older_postgresql_database_gets_the_new_function(request):
    """A database whose ``crm init`` installed the name-only function gets this one from
    ``crm db upgrade`` (the migration that changed the rule reinstalls it)."""
    import os
    import uuid

    if not os.environ.get("CRM_TEST_DATABASE_URL"):
        pytest.skip("CRM_TEST_DATABASE_URL not set")
    import psycopg
    from alembic import command

    from crm_tui.store.db.engine import make_engine
    from crm_tui.store.schema import migrate as schema
    from tests.conftest import _pg_admin_url, _with_db

    admin_url = _pg_admin_url()
    assert admin_url
    name = f"crm_old_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _with_db(admin_url, name)
    request.addfinalizer(lambda: _drop(admin_url, name))
    engine = make_engine(url, create=True)
    try:
        with engine.connect() as conn:
            command.upgrade(schema._config(conn), "0001")
            # What crm init installed before: the duplicate check by name, phone or email.
            conn.exec_driver_sql(
                "CREATE FUNCTION crm_duplicate_owners(p_name_key text, p_phone text, "
                "p_email text, p_exclude_id integer) RETURNS TABLE(id integer, owner_id integer, "
                "phone text, email text, login text, name text) LANGUAGE sql STABLE "
                "SECURITY DEFINER AS $$ SELECT c.id, c.owner_id, c.phone::text, c.email::text, "
                "NULL::text, NULL::text FROM customer c WHERE c.name_key = p_name_key $$")
            conn.commit()
    finally:
        engine.dispose()
    assert schema.upgrade(url).up_to_date
    with psycopg.connect(url) as conn:
        arguments, result = conn.execute(
            "SELECT pg_get_function_arguments(p.oid), pg_get_function_result(p.oid) "
            "FROM pg_proc p WHERE p.proname = 'crm_duplicate_owners'").fetchone()
    assert arguments.startswith("p_match_key text")
    assert "match_key text" in result


def _drop(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the TUI: "add anyway" where the store allows it, and merging --------------------------------

TUI_SIZE = (120, 36)


@pytest.fixture
def tui_book(sqlite_url: str, clock):
    """A rep with her own 魏博, and the boss's 张伟 (SQLite: the screens are the same)."""
    from crm_tui.store.schema.setup import initialise

    initialise(sqlite_url, "boss", "The Boss", clock=clock)
    store = Store(sqlite_url, clock=clock)
    admin = store.actor("boss")
    store.add_rep(admin, "alice", "Alice Wang")
    alice = store.actor("alice")
    own = store.add_customer(alice, {"name": "魏博", "kind": "person", "phone": OWN_PHONE})
    store.add_customer(admin, {"name": "张伟", "kind": "person", "phone": THEIR_PHONE})
    yield store, alice, own.id
    store.close()


def _app(store: Store, actor):
    from crm_tui.tui.app import make_app

    return make_app(store, actor, clock=store.clock, cursor_blink=False, watch_changes=False,
                    start_mode="customers")


async def _new_customer(pilot, **values: str):
    from textual.widgets import Input

    from crm_tui.tui.dialogs.customer_form import CustomerFormScreen
    from tests.tui_data import settle

    await settle(pilot)
    await pilot.press("n")
    await settle(pilot)
    form = pilot.app.screen
    assert isinstance(form, CustomerFormScreen)
    for key, value in values.items():
        form.query_one(f"#field-{key}", Input).value = value
    await pilot.press("ctrl+s")
    await settle(pilot)
    return form


def _shown(form, selector: str) -> bool:
    from textual.widgets import Button

    return bool(form.query_one(selector, Button).display
                and form.query_one("#duplicate-actions").display)


def test_add_anyway_is_offered_for_your_own_match(tui_book):
    from tests.tui_data import pilot_test, settle

    store, alice, own = tui_book

    @pilot_test
    async def scenario() -> None:
        app = _app(store, alice)
        async with app.run_test(size=TUI_SIZE) as pilot:
            form = await _new_customer(pilot, name="魏博", phone=OWN_PHONE)
            assert app.screen is form
            assert f"as customer {own}, owned by you" in str(form.query_one("#form-error").content)
            assert _shown(form, "#add-anyway") and _shown(form, "#add-merge")
            await pilot.click("#add-anyway")
            await settle(pilot)
            assert app.screen is not form
        assert len(store.find(alice, "", scope="mine")) == 2

    scenario()


def test_a_colleagues_match_offers_no_way_around(tui_book):
    from textual.widgets import Input

    from tests.tui_data import pilot_test

    store, alice, _own = tui_book

    @pilot_test
    async def scenario() -> None:
        app = _app(store, alice)
        async with app.run_test(size=TUI_SIZE) as pilot:
            form = await _new_customer(pilot, name="张伟", phone=THEIR_PHONE)
            message = str(form.query_one("#form-error").content)
            assert "owned by The Boss (boss)" in message
            assert not _shown(form, "#add-anyway") and not _shown(form, "#add-merge")
            assert form.query_one("#field-name", Input).value == "张伟"  # kept as typed
            # A namesake with another phone is simply added.
            form.query_one("#field-phone", Input).value = "13700137000"
            await pilot.press("ctrl+s")
            from tests.tui_data import settle

            await settle(pilot)
            assert app.screen is not form

    scenario()
    assert {c.name for c in store.find(alice, "", scope="mine")} == {"魏博", "张伟"}


def test_add_and_merge_fills_the_existing_record(tui_book):
    from tests.tui_data import pilot_test, settle

    store, alice, own = tui_book

    @pilot_test
    async def scenario() -> None:
        app = _app(store, alice)
        async with app.run_test(size=TUI_SIZE) as pilot:
            form = await _new_customer(pilot, name="魏 博", phone=OWN_PHONE,
                                       email="weibo@example.com")
            await pilot.click("#add-merge")
            await settle(pilot)
            assert app.screen is not form

    scenario()
    assert [c.id for c in store.find(alice, "", scope="mine")] == [own]
    assert store.get_customer(own, alice).email == "weibo@example.com"


def test_the_portrait_merges_another_record_into_this_one(tui_book):
    from textual.widgets import Input

    from crm_tui.store.errors import MergedAway
    from crm_tui.tui.dialogs.customer_form import MergeScreen
    from crm_tui.tui.screens.portrait import PortraitScreen
    from tests.tui_data import pilot_test, settle

    store, alice, own = tui_book
    other = store.add_customer(alice, {"name": "Wei Bo", "phone": OWN_PHONE,
                                       "region": "上海"}, force=True)

    @pilot_test
    async def scenario() -> None:
        app = _app(store, alice)
        async with app.run_test(size=TUI_SIZE) as pilot:
            await settle(pilot)
            app.open_customer(own)
            await settle(pilot)
            await pilot.press("M")
            await settle(pilot)
            dialog = app.screen
            assert isinstance(dialog, MergeScreen)
            dialog.query_one("#field-others", Input).value = "x"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "ids" in str(dialog.query_one("#error-others").content)
            dialog.query_one("#field-others", Input).value = f"#{other.id}"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, PortraitScreen)
            assert app.screen.portrait is not None
            assert app.screen.portrait.customer.region == "上海"

    scenario()
    with pytest.raises(MergedAway):
        store.get_customer(other.id, alice)
