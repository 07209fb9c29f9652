"""The open-sea commands of the CLI (DESIGN §7) on both backends: output, --json, exit codes.

The caller is the OS account (SQLite) or the database role (PostgreSQL), made admin by
``initialise``; reps act through ``--as``. Refusals exit 3 with the rule in one sentence.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from crm_tui.cli.app import app
from crm_tui.config import os_login
from crm_tui.store import Clock, FixedClock, Store
from crm_tui.store.schema.setup import initialise

runner = CliRunner()


@pytest.fixture
def url(db_url: str) -> Iterator[str]:
    """A database whose admin is the caller, with reps alice and bob (team east)."""
    result = initialise(db_url, os_login(), prefer_database_role=True)
    store = Store(db_url)
    admin = store.actor(result.admin_created)
    store.add_rep(admin, "alice", "Alice Wang", team="east")
    store.add_rep(admin, "bob", "Bob", team="east")
    store.close()
    yield db_url


def crm(url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--db", url, *args], env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def crm_json(url: str, *args: str) -> object:
    code, out, err = crm(url, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def refused(url: str, *args: str, code: int = 3) -> str:
    """Run a command that must be refused; return its one-sentence error."""
    got, out, err = crm(url, *args)
    assert got == code, (got, out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def add_pool(url: str, name: str, *extra: str) -> int:
    return crm_json(url, "add", name, "--pool", *extra)["id"]


def add_owned_long_ago(url: str, login: str, name: str, days: int) -> int:
    """A customer ``login`` has owned for ``days`` days without a follow-up."""
    past = FixedClock(Clock().now() - timedelta(days=days))
    store = Store(url, clock=past)
    try:
        return store.add_customer(store.actor(login), {"name": name}).id
    finally:
        store.close()


def test_claim_release_pool_and_history(url):
    acme = add_pool(url, "Acme", "--phone", "13800138000", "--email", "info@acme.com")
    pooled = crm_json(url, "--as", "alice", "pool")
    assert [c["id"] for c in pooled] == [acme]
    assert pooled[0]["masked"] and "****" in pooled[0]["phone"] and pooled[0]["days_in_pool"] == 0
    assert crm_json(url, "--as", "alice", "find", "acme")[0]["email"] == "i***@acme.com"
    assert crm_json(url, "--as", "alice", "show", str(acme))["email"] == "i***@acme.com"

    claimed = crm_json(url, "--as", "alice", "claim", str(acme))
    assert claimed["id"] == acme and claimed["owner"] == "alice"
    assert claimed["phone"] == "+8613800138000" and not claimed["masked"]
    err = refused(url, "--as", "bob", "claim", str(acme))
    assert "already claimed by Alice Wang (alice)" in err and "13800138000" not in err
    assert crm_json(url, "--as", "bob", "pool") == []

    err = refused(url, "--as", "alice", "release", str(acme))
    assert "require_release_reason" in err
    released = crm_json(url, "--as", "alice", "release", "Acme", "--reason", "no budget")
    assert released["owner"] is None and released["release_reason"] == "no budget"
    entry = crm_json(url, "--as", "bob", "pool", "acme")[0]
    assert (entry["released_by"], entry["release_reason"]) == ("alice", "no budget")

    code, out, err = crm(url, "--as", "bob", "pool")
    assert code == 0 and "Acme" in out and "alice: no budget" in out
    code, out, err = crm(url, "--as", "bob", "claim", "Acme")
    assert code == 0 and f"Claimed customer {acme}, Acme." in out
    code, out, _ = crm(url, "--as", "bob", "show", str(acme))
    assert "Ownership history" in out
    history = crm_json(url, "--as", "bob", "show", str(acme))["ownership_history"]
    assert [h["kind"] for h in history] == ["claimed", "released", "claimed", "created"]


def test_claim_refusals_name_the_rule(url):
    first, second, third = (add_pool(url, name) for name in ("One", "Two", "Three"))
    crm_json(url, "rules", "--set", "private_cap=1")
    crm_json(url, "--as", "alice", "claim", str(first))
    err = refused(url, "--as", "alice", "claim", str(second))
    assert "private_cap" in err and "1 of 1" in err
    crm_json(url, "--as", "alice", "release", str(first), "--reason", "no intent")
    err = refused(url, "--as", "alice", "claim", str(first))
    assert "reclaim_cooldown_days" in err
    crm_json(url, "rules", "--set", "private_cap=0", "--set", "daily_claim_limit=1")
    err = refused(url, "--as", "alice", "claim", str(third))
    assert "daily_claim_limit" in err
    refused(url, "--as", "alice", "claim", "424242", code=4)


def test_lock_and_unlock(url):
    crm_json(url, "rules", "--set", "lock_cap=1")
    one = crm_json(url, "--as", "alice", "add", "Key one")["id"]
    two = crm_json(url, "--as", "alice", "add", "Key two")["id"]
    assert crm_json(url, "--as", "alice", "lock", str(one))["locked"] is True
    assert "lock_cap" in refused(url, "--as", "alice", "lock", str(two))
    assert crm_json(url, "--as", "alice", "unlock", str(one))["locked"] is False
    code, out, _ = crm(url, "--as", "alice", "lock", str(two))
    assert code == 0 and "Locked customer" in out
    refused(url, "--as", "bob", "lock", str(one), code=4)  # not bob's to see


def test_transfer_keeps_deal_stage_and_follow_ups(url):
    acme = crm_json(url, "--as", "alice", "add", "Acme")["id"]
    other = crm_json(url, "--as", "alice", "add", "Other")["id"]
    deal = crm_json(url, "--as", "alice", "deal", "add", str(acme), "Renewal", "5000",
                    "--stage", "negotiation")
    crm_json(url, "--as", "alice", "log", str(acme), "visited", "--next", "+3d")
    assert "manager or an admin" in refused(url, "--as", "alice", "transfer", "--from", "alice",
                                            "--to", "bob", str(acme))
    refused(url, "transfer", "--from", "alice", "--to", "bob", code=2)
    refused(url, "transfer", "--from", "alice", "--to", "bob", "--all", str(acme), code=2)
    result = crm_json(url, "transfer", "--from", "alice", "--to", "bob", str(acme))
    assert result["moved"] == 1 and result["customers"] == [acme]
    shown = crm_json(url, "--as", "bob", "show", str(acme))
    assert shown["owner"] == "bob"
    assert [(d["id"], d["stage"], d["owner"]) for d in shown["deals"]] == [(deal["id"], "negotiation", "bob")]
    assert [(f["summary"], f["rep"]) for f in shown["follow_ups"]] == [("visited", "alice")]
    assert shown["ownership_history"][0]["kind"] == "transferred"
    everything = crm_json(url, "transfer", "--from", "alice", "--to", "bob", "--all")
    assert everything["customers"] == [other]
    code, out, _ = crm(url, "transfer", "--from", "bob", "--to", "alice", "--all")
    assert code == 0 and "Transferred 2 customers from bob to alice." in out


def test_recycle_dry_run_then_for_real(url):
    quiet = add_owned_long_ago(url, "alice", "Quiet", days=40)
    fresh = crm_json(url, "--as", "alice", "add", "Fresh")["id"]
    planned = crm_json(url, "recycle", "--dry-run")
    assert [(p["customer_id"], p["owner"], p["rule"]) for p in planned] == [
        (quiet, "alice", "recycle_after_days")]
    assert crm_json(url, "--as", "alice", "show", str(quiet))["owner"] == "alice"
    assert crm_json(url, "--as", "bob", "recycle", "--dry-run") == []  # not bob's to see
    code, out, _ = crm(url, "recycle")
    assert code == 0 and "Recycled 1 customer\n" in out and "Quiet" in out  # one, not "1 customers"
    assert crm_json(url, "recycle") == []
    code, out, _ = crm(url, "recycle")
    assert out.strip() == "Nothing to recycle."
    assert crm_json(url, "--as", "alice", "show", str(fresh))["owner"] == "alice"
    assert [c["id"] for c in crm_json(url, "pool")] == [quiet]


def test_due_shows_customers_about_to_be_recycled(url):
    soon = add_owned_long_ago(url, "alice", "Soon gone", days=28)
    due = crm_json(url, "--as", "alice", "due")
    assert [(d["customer_id"], d["reason"]) for d in due] == [(soon, "recycle")]


def test_rules_show_and_set(url):
    shown = crm_json(url, "rules")
    assert shown["private_cap"] == 200 and shown["release_reasons"][0] == "no budget"
    code, out, _ = crm(url, "rules")
    assert code == 0 and "recycle_after_days" in out and "most customers one rep may own" in out
    changed = crm_json(url, "rules", "--set", "recycle_after_days=45", "--set",
                       "recycle_exempt_won=no")
    assert changed["recycle_after_days"] == 45 and changed["recycle_exempt_won"] is False
    assert "must not be negative" in refused(url, "rules", "--set", "lock_cap=-1", code=2)
    assert "unknown setting" in refused(url, "rules", "--set", "nonsense=1", code=2)
    refused(url, "rules", "--set", "private_cap", code=2)
    assert "Only an admin" in refused(url, "--as", "alice", "rules", "--set", "private_cap=1")
    assert crm_json(url, "rules")["lock_cap"] == 10


def test_reps_deactivate_moves_customers_first(url):
    acme = crm_json(url, "--as", "alice", "add", "Acme")["id"]
    err = refused(url, "reps", "deactivate", "alice", code=2)
    assert "--transfer-to" in err and "--to-pool" in err
    refused(url, "reps", "deactivate", "alice", "--transfer-to", "bob", "--to-pool", code=2)
    assert "admin" in refused(url, "--as", "bob", "reps", "deactivate", "alice", "--to-pool")
    result = crm_json(url, "reps", "deactivate", "alice", "--transfer-to", "bob")
    assert (result["moved"], result["customers"], result["to_rep"]) == (1, [acme], "bob")
    assert crm_json(url, "--as", "bob", "show", str(acme))["owner"] == "bob"
    assert "deactivated" in refused(url, "--as", "alice", "find")
    reps = {r["login"]: r for r in crm_json(url, "reps", "list")}
    assert reps["alice"]["active"] is False and reps["bob"]["customers"] == 1
    code, out, _ = crm(url, "reps", "deactivate", "bob", "--to-pool")
    assert code == 0 and "1 customers went to the open sea" in out
