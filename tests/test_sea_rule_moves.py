"""Recycling by rule is the system's, with the rule named (issue 14 item 4): in the store's
records, in ``crm show --history`` and in the portrait; and a fresh demo book is consistent with
the default rules on the day it is made (nothing overdue for recycling). Both backends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console
from sqlalchemy import select
from typer.testing import CliRunner

from crm_tui.cli.app import app
from crm_tui.config import os_login
from crm_tui.present.portrait import header_card, ownership_table
from crm_tui.store import FixedClock, Store
from crm_tui.store.db.base import audit_t, customer_t, ownership_t
from crm_tui.store.schema.setup import initialise

RULE_LINE = "recycled by rule recycle_after_days (no follow-up for 30 days)"


@pytest.fixture
def alice(make_rep):
    return make_rep("alice", team="east", name="Alice Wang")


def rendered(renderable) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_a_recycle_run_by_a_rep_is_recorded_as_the_rules(store, admin, alice, clock):
    acme = store.add_customer(alice, {"name": "Acme"})
    clock.advance(days=31)
    moved = store.recycle(admin)  # the app recycles at start as whoever opened it
    assert [item.customer_id for item in moved] == [acme.id]
    with store.read() as conn:
        event = conn.execute(
            select(ownership_t).where(ownership_t.c.customer_id == acme.id,
                                      ownership_t.c.kind == "recycled")
        ).one()
        audit = conn.execute(
            select(audit_t.c.actor_id).where(audit_t.c.entity_id == acme.id,
                                             audit_t.c.action == "recycle")
        ).scalars().all()
        updated_by = conn.execute(
            select(customer_t.c.updated_by_id, customer_t.c.released_by_id)
            .where(customer_t.c.id == acme.id)
        ).one()
    assert (event.actor_id, event.from_rep_id, event.to_rep_id) == (None, alice.id, None)
    assert event.reason == "recycled: no follow-up for 30 days (rule recycle_after_days)"
    assert audit == [None] and tuple(updated_by) == (None, None)

    portrait = store.portrait(admin, acme.id, history=True)
    recycled = next(o for o in portrait.ownership if o.kind == "recycled")
    assert recycled.actor is None
    history = rendered(ownership_table(portrait.ownership))
    line = next(text for text in history.splitlines() if "recycled" in text.split())
    assert "rule recycle_after_days" in line and "no follow-up for 30 days" in line
    assert "boss" not in line and "(rule" not in line
    card = rendered(header_card(portrait, clock.today()))
    assert RULE_LINE in card and ": recycled" not in card


def test_a_release_still_names_the_rep(store, alice, clock):
    acme = store.add_customer(alice, {"name": "Acme"})
    store.release(acme.id, alice, "no budget")
    portrait = store.portrait(store.actor("boss"), acme.id)
    assert "alice: no budget" in rendered(header_card(portrait, clock.today()))
    released = next(o for o in portrait.ownership if o.kind == "released")
    assert released.actor == "alice"


# --- crm show --history ----------------------------------------------------------------------


runner = CliRunner()


@pytest.fixture
def url(db_url: str) -> Iterator[str]:
    result = initialise(db_url, os_login(), prefer_database_role=True)
    store = Store(db_url)
    store.add_rep(store.actor(result.admin_created), "alice", "Alice Wang", team="east")
    store.close()
    yield db_url


def test_show_history_names_the_rule_not_who_ran_it(url):
    me = os_login()
    added = runner.invoke(app, ["--db", url, "--as", "alice", "add", "Acme", "--json"])
    acme = json.loads(added.stdout)["id"]
    store = Store(url)
    try:
        with store.engine.begin() as conn:
            conn.execute(customer_t.update().where(customer_t.c.id == acme).values(
                claimed_at=datetime.now(UTC) - timedelta(days=40)))
    finally:
        store.close()
    recycled = runner.invoke(app, ["--db", url, "recycle"])
    assert recycled.exit_code == 0, recycled.stderr
    shown = runner.invoke(app, ["--db", url, "show", str(acme), "--history"],
                          env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.stderr
    assert RULE_LINE in shown.stdout
    line = next(text for text in shown.stdout.splitlines()
                if "recycled" in text.split() and "rule recycle_after_days" in text)
    assert me not in line.split()


# --- the demo book and the default rules -------------------------------------------------------


def test_a_fresh_demo_book_has_nothing_overdue_for_recycling(db_url, clock: FixedClock):
    initialise(db_url, "boss", "The Boss", demo=2000, clock=clock)
    store = Store(db_url, clock=clock)
    try:
        assert store.recycle(dry_run=True) == []
        assert store.recycle() == []
        clock.advance(days=31)  # the rules still bite later: the demo is not exempt
        assert store.recycle(dry_run=True)
    finally:
        store.close()
