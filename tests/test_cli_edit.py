"""`crm edit` (DESIGN §7): fields and tags changed through the store, exit codes 2/3/4, and the
optimistic lock: a change saved by someone else since the edit read the customer is refused."""

# The test_cli fixtures imported below are parameters of the tests here, which pyflakes reads
# as redefining them.
# ruff: noqa: F811

from __future__ import annotations

from typing import Any

import pytest

from crm_tui.store import Store
from tests.test_cli import blank_url, crm, crm_json, url  # noqa: F401 - fixtures and helpers shared with test_cli


@pytest.fixture
def team(url: str) -> str:
    """The database of ``url`` with two reps, alice and bob, beside the admin who runs crm."""
    for login in ("alice", "bob"):
        code, _, err = crm(url, "reps", "add", login, "--name", login.title())
        assert code == 0, err
    return url


def test_edit_changes_fields_and_tags(url: str) -> None:
    created = crm_json(url, "add", "张伟", "--phone", "13800138000", "--tag", "VIP，华东")
    changed = crm_json(url, "edit", str(created["id"]), "--company", "华为科技", "--status", "意向",
                       "--email", "Zhang@Example.com", "--tag", "重点", "--untag", "VIP")
    assert changed["id"] == created["id"]
    assert changed["company"] == "华为科技"
    assert changed["status"] == "intent"  # the Chinese word, as crm add understands it
    assert changed["email"] == "zhang@example.com"
    assert changed["phone"] == "+8613800138000"  # untouched
    assert sorted(changed["tags"]) == ["华东", "重点"]
    assert changed["version"] > created["version"]
    shown = crm_json(url, "show", "张伟")
    assert shown["company"] == "华为科技" and sorted(shown["tags"]) == ["华东", "重点"]
    history = crm_json(url, "show", str(created["id"]), "--history")["history"]
    assert {"company", "status", "tags"} <= {entry["field"] for entry in history}

    code, out, err = crm(url, "edit", "张伟", "--region", "华东")
    assert code == 0, err
    assert str(created["id"]) in out


def test_edit_by_name_with_only_tags(url: str) -> None:
    crm(url, "add", "Acme Ltd", "--tag", "a")
    changed = crm_json(url, "edit", "Acme Ltd", "--tag", "b, c", "--tag", "d")
    assert changed["tags"] == ["a", "b", "c", "d"]
    changed = crm_json(url, "edit", "Acme Ltd", "--untag", "a,c")
    assert changed["tags"] == ["b", "d"]


def test_edit_refuses_bad_values_naming_the_field(url: str) -> None:
    customer_id = str(crm_json(url, "add", "Acme", "--phone", "13800138000")["id"])
    code, out, err = crm(url, "edit", customer_id, "--phone", "12")
    assert code == 2 and err.startswith("crm: phone") and out == ""
    code, _, err = crm(url, "edit", customer_id, "--status", "maybe")
    assert code == 2 and "status" in err
    code, _, err = crm(url, "edit", customer_id)
    assert code == 2 and "nothing to change" in err
    code, _, err = crm(url, "edit", customer_id, "--tag", "x", "--untag", "x")
    assert code == 2 and "--untag" in err
    assert crm_json(url, "show", customer_id)["phone"] == "+8613800138000"
    code, _, err = crm(url, "edit", "999999", "--name", "Ghost")
    assert code == 4 and "999999" in err
    assert len(err.strip().splitlines()) == 1


def test_edit_duplicate_phone_is_refused(url: str) -> None:
    crm(url, "add", "First", "--phone", "13800138000")
    second = str(crm_json(url, "add", "Second")["id"])
    code, _, err = crm(url, "edit", second, "--phone", "+86 138 0013 8000")
    assert code == 3 and "already exists" in err


def test_a_colleagues_private_customer_is_not_found(team: str) -> None:
    bobs = crm_json(team, "--as", "bob", "add", "Bob's Client", "--phone", "13900139000")
    code, _, err = crm(team, "--as", "alice", "edit", str(bobs["id"]), "--name", "Mine now")
    assert code == 4 and str(bobs["id"]) in err
    code, _, _ = crm(team, "--as", "alice", "edit", "Bob's Client", "--name", "Mine now")
    assert code == 4
    assert crm_json(team, "show", str(bobs["id"]))["name"] == "Bob's Client"


def test_a_rep_may_not_edit_an_open_sea_customer(team: str) -> None:
    pooled = crm_json(team, "add", "Pooled", "--pool")
    code, _, err = crm(team, "--as", "alice", "edit", str(pooled["id"]), "--region", "华北")
    assert code == 3 and "claim" in err


def test_a_concurrent_edit_is_refused_naming_who(team: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Alice saves her customer after the admin's `crm edit` read it: the edit is exit 3, names
    alice, and writes nothing (neither its field nor its tag set)."""
    customer = crm_json(team, "--as", "alice", "add", "Contested", "--tag", "old")
    read = Store.get_customer

    def read_then_alice_saves(self: Store, customer_id: int, actor: Any) -> Any:
        record = read(self, customer_id, actor)
        other = Store(team)
        try:
            alice = other.actor("alice")
            other.update_customer(alice, customer_id, {"region": "华南"}, tags=["old", "hers"])
        finally:
            other.close()
        return record

    monkeypatch.setattr(Store, "get_customer", read_then_alice_saves)
    code, out, err = crm(team, "edit", str(customer["id"]), "--company", "Admin Co", "--tag", "admin")
    monkeypatch.undo()
    assert code == 3, err
    assert "alice" in err
    assert "nothing was saved" in err and out == ""
    shown = crm_json(team, "show", str(customer["id"]))
    assert shown["company"] is None and shown["region"] == "华南"
    assert sorted(shown["tags"]) == ["hers", "old"]
