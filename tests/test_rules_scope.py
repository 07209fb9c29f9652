"""Company rules are the admins', a lowered cap is confirmed, and a new rep's identity is said
(issue 14 items 3 and 6; DESIGN §4, §5).

- Managers and reps read the rules; only an admin changes them (store, CLI and rules screen).
- A change that lowers ``private_cap`` or ``lock_cap`` below what reps hold is refused until
  confirmed, naming each rep and count (store ``OverCapRefused``, ``crm rules --yes``, the
  screen's confirmation dialog).
- ``crm reps add LOGIN`` for an account (or PostgreSQL role) that does not exist still adds the
  rep, and says how that person will be identified.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Button, Input
from typer.testing import CliRunner

from crm_tui.cli.app import app
from crm_tui.config import acting_login
from crm_tui.store import PermissionDenied, Store
from crm_tui.store.team.settings import OverCap, OverCapRefused
from crm_tui.tui.app import CrmApp, make_app
from crm_tui.tui.screens.rules import OverCapConfirm, RulesScreen
from tests.conftest import PG_ENV, fresh_pg_database
from tests.tui_data import pilot_test, settle, wait_for

runner = CliRunner()
SIZE = (120, 36)


def own(store: Store, login: str, n: int, *, locked: int = 0) -> list[int]:
    """Give the rep ``login`` ``n`` customers of their own, the first ``locked`` of them locked."""
    rep = store.actor(login)
    ids = [store.add_customer(rep, {"name": f"{login} customer {i}"}).id for i in range(n)]
    for customer_id in ids[:locked]:
        store.lock(customer_id, rep)
    return ids


@pytest.fixture
def company(store, admin, make_rep):
    """A manager of a three-rep team whose reps own 5, 3 and 1 customers (alice locks 3)."""
    make_rep("mgr", role="manager", team="east")
    for login in ("alice", "bob", "cara"):
        make_rep(login, team="east")
    own(store, "alice", 5, locked=3)
    own(store, "bob", 3)
    own(store, "cara", 1)
    return store, admin


# --- the store: who may change the rules ----------------------------------------------------------


def test_a_manager_reads_the_rules_but_may_not_change_them(company):
    store, _admin = company
    manager, rep = store.actor("mgr"), store.actor("alice")
    for actor in (manager, rep):
        with pytest.raises(PermissionDenied) as refused:
            store.set_rules(actor, {"private_cap": "21"})
        assert refused.value.exit_code == 3
        assert "Only an admin" in str(refused.value) and "private_cap" in str(refused.value)
        with pytest.raises(PermissionDenied):
            store.preview_rules(actor, {"private_cap": "21"})
    assert store.rules()["private_cap"] == 200  # nothing changed for the company


def test_lowering_a_cap_below_what_reps_own_is_refused_until_confirmed(company):
    store, admin = company
    preview = store.preview_rules(admin, {"private_cap": "2", "recycle_after_days": "40"})
    assert sorted(preview.changed) == ["private_cap", "recycle_after_days"]
    assert preview.rules["private_cap"] == 2
    assert preview.over_cap == [OverCap("private_cap", "alice", "Alice", 5, 2),
                                OverCap("private_cap", "bob", "Bob", 3, 2)]
    with pytest.raises(OverCapRefused) as refused:
        store.set_rules(admin, {"private_cap": "2", "recycle_after_days": "40"})
    message = str(refused.value)
    assert refused.value.exit_code == 3 and refused.value.rule == "private_cap"
    assert "2 reps" in message and "alice owns 5" in message and "bob owns 3" in message
    assert "cara" not in message
    assert refused.value.over == preview.over_cap
    rules = store.rules()
    assert (rules["private_cap"], rules["recycle_after_days"]) == (200, 30)  # all or nothing

    after = store.set_rules(admin, {"private_cap": "2", "recycle_after_days": "40"},
                            over_cap_ok=True)
    assert (after["private_cap"], after["recycle_after_days"]) == (2, 40)
    # Raising a cap, or lifting it (0), asks nothing, even with reps still over it.
    assert store.set_rules(admin, {"private_cap": "4"})["private_cap"] == 4
    assert store.set_rules(admin, {"private_cap": "0"})["private_cap"] == 0
    # Values that change nothing, or rules that are not caps, ask nothing either.
    assert store.preview_rules(admin, {"private_cap": "0", "daily_claim_limit": "1"}).over_cap == []


def test_lowering_lock_cap_below_what_reps_have_locked_is_refused_until_confirmed(company):
    store, admin = company
    with pytest.raises(OverCapRefused) as refused:
        store.set_rules(admin, {"lock_cap": "2"})
    assert refused.value.over == [OverCap("lock_cap", "alice", "Alice", 3, 2)]
    assert "alice has locked 3" in str(refused.value)
    # lock_cap 0 turns locking off: the strictest value, not "no cap".
    assert [o.login for o in store.preview_rules(admin, {"lock_cap": "0"}).over_cap] == ["alice"]
    assert store.preview_rules(admin, {"lock_cap": "3"}).over_cap == []
    assert store.set_rules(admin, {"lock_cap": "2"}, over_cap_ok=True)["lock_cap"] == 2


def test_a_refused_cap_change_crosses_the_helper_whole():
    """The app's store runs in a helper process: the refusal is pickled with its reps."""
    import pickle

    refusal = OverCapRefused([OverCap("private_cap", "alice", "Alice", 5, 2)])
    again = pickle.loads(pickle.dumps(refusal))
    assert isinstance(again, OverCapRefused)
    assert again.over == refusal.over and str(again) == str(refusal) and again.rule == "private_cap"


# --- the store: how a new rep will be identified -----------------------------------------------


@pytest.fixture
def new_login() -> Iterator[str]:
    """A login no OS account and no PostgreSQL role has; its role is dropped afterwards."""
    login = f"nosuch{uuid.uuid4().hex[:8]}"
    yield login
    if os.environ.get(PG_ENV):
        import psycopg

        with psycopg.connect(os.environ[PG_ENV], autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{login}"')


def test_adding_a_rep_says_how_they_will_be_identified(store, admin, new_login):
    store.add_rep(admin, new_login, "Nobody Yet")
    assert store.actor(new_login).login == new_login  # added all the same
    if store.is_sqlite:
        assert store.security_notes == [
            f"no OS account {new_login!r} on this machine: {new_login} will be identified by "
            f"the operating-system account named {new_login} when they run crm."
        ]
        store.security_notes.clear()
        store.add_rep(admin, "root", "The Root")  # an account this machine has: nothing to say
        assert store.security_notes == []
    else:
        assert store.security_notes == [
            f"Created the PostgreSQL login role {new_login}: {new_login} will be identified by it "
            "when they connect."
        ]


def test_on_postgresql_an_existing_role_is_named(store, admin, new_login):
    if store.is_sqlite:
        pytest.skip("PostgreSQL roles")
    import psycopg

    with psycopg.connect(os.environ[PG_ENV], autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{new_login}" LOGIN')
    store.add_rep(admin, new_login, "Has A Role")
    assert store.security_notes == [
        f"{new_login} will be identified by the existing PostgreSQL login role {new_login} "
        "when they connect."
    ]
    store.security_notes.clear()
    no_login = f"{new_login}_nl"
    try:
        with psycopg.connect(os.environ[PG_ENV], autocommit=True) as conn:
            conn.execute(f'CREATE ROLE "{no_login}" NOLOGIN')
        store.add_rep(admin, no_login, "Cannot Log In")
        assert store.security_notes == [
            f"the PostgreSQL role {no_login} exists but may not log in: {no_login} will be "
            f'identified by it once a database administrator runs `ALTER ROLE "{no_login}" LOGIN`.'
        ]
    finally:
        with psycopg.connect(os.environ[PG_ENV], autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{no_login}"')


# --- the CLI --------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def cli_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database made by ``crm init`` (the caller its admin), with a manager and two reps who
    own 4 and 2 customers."""
    if request.param == "sqlite":
        url = str(tmp_path / "cli.db")
        drop = None
    else:
        url, drop = fresh_pg_database(request.getfixturevalue("pg_template"))
    try:
        assert crm(url, "init")[0] == 0
        store = Store(url)
        try:
            admin = store.actor(acting_login(store))
            for login, role in (("mgr", "manager"), ("alice", "rep"), ("bob", "rep")):
                store.add_rep(admin, login, login.title(), role=role, team="east")
            own(store, "alice", 4)
            own(store, "bob", 2)
        finally:
            store.close()
        yield url
    finally:
        if drop is not None:
            drop()


def crm(url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--db", url, *args])
    return result.exit_code, result.stdout, result.stderr


def test_crm_rules_says_who_may_change_them(cli_url):
    code, out, _ = crm(cli_url, "--as", "mgr", "rules")
    assert code == 0 and "Company rules — only an admin may change them." in out
    code, _, err = crm(cli_url, "--as", "mgr", "rules", "--set", "private_cap=21")
    assert code == 3 and "Only an admin" in err and "private_cap" in err
    code, out, _ = crm(cli_url, "rules", "--json")
    assert json.loads(out)["private_cap"] == 200
    code, out, _ = crm(cli_url, "rules")
    assert code == 0 and "only an admin" not in out and "--set KEY=VALUE" in out


def test_crm_rules_help_speaks_of_company_rules_and_admins():
    result = runner.invoke(app, ["rules", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "team's settings" not in text
    assert "company rules" in text and "only an admin" in text and "--yes" in text


def test_crm_rules_refuses_a_cap_below_what_reps_own_without_yes(cli_url):
    code, _, err = crm(cli_url, "rules", "--set", "private_cap=3")
    assert code == 3
    assert "1 rep over a cap" in err and "alice owns 4" in err and "bob" not in err
    assert "--yes" in err
    assert json.loads(crm(cli_url, "rules", "--json")[1])["private_cap"] == 200
    code, out, err = crm(cli_url, "rules", "--set", "private_cap=3", "--yes", "--json")
    assert code == 0, err
    assert json.loads(out)["private_cap"] == 3


def test_crm_reps_add_warns_about_a_missing_account(cli_url, new_login):
    code, out, err = crm(cli_url, "reps", "add", new_login, "--name", "Nobody Yet")
    assert code == 0 and f"Added {new_login}" in out
    if cli_url.startswith("postgresql"):
        assert f"Created the PostgreSQL login role {new_login}" in err
    else:
        assert (f"crm: note: no OS account {new_login!r} on this machine: {new_login} will be "
                f"identified by the operating-system account named {new_login} when they run "
                "crm.") in err
    code, out, _ = crm(cli_url, "reps", "list", "--json")
    assert new_login in [rep["login"] for rep in json.loads(out)]


# --- the rules screen -----------------------------------------------------------------------------


def app_for(store: Store, login: str) -> CrmApp:
    return make_app(store, store.actor(login), clock=store.clock, cursor_blink=False,
                    watch_changes=False)


async def open_rules(pilot) -> RulesScreen:
    await pilot.press("4")
    await settle(pilot)
    await pilot.press("R")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, RulesScreen)
    return screen


@pilot_test
async def test_a_manager_sees_the_company_rules_read_only(company):
    store, _admin = company
    app = app_for(store, "mgr")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        rules = await open_rules(pilot)
        cap = rules.query_one("#rule-private_cap", Input)
        assert cap.disabled and cap.value == "200"
        assert rules.query_one("#rules-save", Button).disabled
        assert "Company rules — only an admin may change them." in str(
            rules.query_one("#rules-note").render())
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert any("only an admin" in n.message for n in app._notifications)
    assert store.rules()["private_cap"] == 200


@pilot_test
async def test_an_admin_lowering_the_cap_below_ownership_is_asked_first(company):
    store, _admin = company
    app = app_for(store, "boss")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        rules = await open_rules(pilot)
        rules.query_one("#rule-private_cap", Input).value = "2"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, OverCapConfirm), "the confirmation")
        confirm = app.screen
        assert isinstance(confirm, OverCapConfirm)
        shown = str(confirm.query_one("#over-cap-reps").render())
        assert "Alice (alice) owns 5" in shown and "Bob (bob) owns 3" in shown
        assert "cara" not in shown
        assert store.rules()["private_cap"] == 200  # nothing saved before the answer
        await pilot.press("escape")  # cancel: back to the rules, nothing saved
        await settle(pilot)
        assert app.screen is rules and store.rules()["private_cap"] == 200
        assert "Nothing was saved" in str(rules.query_one("#rules-error").render())

        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, OverCapConfirm), "the confirmation")
        await pilot.click("#over-cap-yes")
        await settle(pilot)
        assert not isinstance(app.screen, (RulesScreen, OverCapConfirm))
        assert store.rules()["private_cap"] == 2
        assert any("Rules saved" in n.message for n in app._notifications)
