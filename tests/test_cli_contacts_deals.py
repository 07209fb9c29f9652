"""`crm contact add/edit` and `crm deal list` (DESIGN §7): the people at a customer, and the
pipeline as a list of what the caller may see."""

# The test_cli fixtures imported below are parameters of the tests here, which pyflakes reads
# as redefining them.
# ruff: noqa: F811

from __future__ import annotations

import pytest

from tests.test_cli import blank_url, crm, crm_json, url  # noqa: F401 - fixtures and helpers shared with test_cli

DEAL_KEYS = {"id", "customer_id", "customer_name", "owner", "title", "amount", "stage",
             "probability", "expected_close", "closed_at", "created_at"}


@pytest.fixture
def team(url: str) -> str:
    """``url`` with reps alice and bob (team east, led by the manager carol) and dave (west)."""
    for login, role, team_name in (("alice", "rep", "east"), ("bob", "rep", "east"),
                                   ("carol", "manager", "east"), ("dave", "rep", "west")):
        code, _, err = crm(url, "reps", "add", login, "--name", login.title(), "--role", role,
                           "--team", team_name)
        assert code == 0, err
    return url


# --- contacts ------------------------------------------------------------------------------------


def test_contact_add_prints_id_and_edit_changes_it(url: str) -> None:
    customer_id = str(crm_json(url, "add", "华为科技")["id"])
    code, out, err = crm(url, "contact", "add", customer_id, "李娜", "--title", "采购经理",
                         "--phone", "139 0013 9000", "--primary")
    assert code == 0, err
    first = int(out.strip())
    second = crm_json(url, "contact", "add", "华为科技", "王强", "--email", "Wang@Example.com",
                      "--wechat", "wq88", "--primary")
    assert second["customer_id"] == int(customer_id) and second["is_primary"] is True
    assert second["email"] == "wang@example.com"
    contacts = {c["id"]: c for c in crm_json(url, "show", customer_id)["contacts"]}
    assert contacts[first]["phone"] == "+8613900139000" and contacts[first]["title"] == "采购经理"
    assert contacts[first]["is_primary"] is False  # one primary: the newer one took it over

    edited = crm_json(url, "contact", "edit", str(first), "--title", "总监", "--primary")
    assert edited["id"] == first and edited["title"] == "总监" and edited["is_primary"] is True
    assert edited["phone"] == "+8613900139000"  # untouched
    contacts = {c["id"]: c for c in crm_json(url, "show", customer_id)["contacts"]}
    assert contacts[second["id"]]["is_primary"] is False
    edited = crm_json(url, "contact", "edit", str(first), "--not-primary")
    assert edited["is_primary"] is False and edited["title"] == "总监"
    code, out, err = crm(url, "contact", "edit", str(first), "--wechat", "li_na")
    assert code == 0 and str(first) in out, err
    # A contact is found by search once added.
    assert [c["id"] for c in crm_json(url, "find", "王强")] == [int(customer_id)]


def test_contact_errors(team: str) -> None:
    customer_id = str(crm_json(team, "add", "Acme")["id"])
    code, out, err = crm(team, "contact", "add", customer_id, "Ann", "--email", "nope")
    assert code == 2 and "email" in err and out == ""
    code, _, err = crm(team, "contact", "add", customer_id, " ")
    assert code == 2 and "name" in err
    contact_id = str(crm_json(team, "contact", "add", customer_id, "Ann")["id"])
    code, _, err = crm(team, "contact", "edit", contact_id, "--phone", "12")
    assert code == 2 and "phone" in err
    code, _, err = crm(team, "contact", "edit", contact_id)
    assert code == 2 and "nothing to change" in err
    code, _, err = crm(team, "contact", "edit", "999999", "--title", "x")
    assert code == 4 and "999999" in err
    code, _, err = crm(team, "contact", "add", "999999", "Ghost")
    assert code == 4

    # The admin's customer is another rep's private one for alice: not found, not changed.
    code, _, _ = crm(team, "--as", "alice", "contact", "add", customer_id, "Mallory")
    assert code == 4
    code, _, _ = crm(team, "--as", "alice", "contact", "edit", contact_id, "--name", "Mallory")
    assert code == 4
    assert [c["name"] for c in crm_json(team, "show", customer_id)["contacts"]] == ["Ann"]
    # An open-sea customer is claimed before its people are added.
    pooled = str(crm_json(team, "add", "Pooled", "--pool")["id"])
    code, _, err = crm(team, "--as", "alice", "contact", "add", pooled, "Pat")
    assert code == 3 and "claim" in err


# --- deals ---------------------------------------------------------------------------------------


def _customer_with_deals(url: str, login: str, name: str, *deals: tuple[str, str, str]) -> int:
    customer_id = crm_json(url, "--as", login, "add", name)["id"]
    for title, amount, stage in deals:
        crm_json(url, "--as", login, "deal", "add", str(customer_id), title, amount, "--stage", stage)
    return int(customer_id)


def test_deal_list_shows_what_the_caller_may_see(team: str) -> None:
    alices = _customer_with_deals(team, "alice", "甲公司", ("Licences", "12,500.50", "proposal"),
                                  ("Support", "800", "won"))
    bobs = _customer_with_deals(team, "bob", "乙公司", ("Servers", "99000", "proposal"))
    daves = _customer_with_deals(team, "dave", "West Co", ("Training", "1500", "qualified"))

    listed = crm_json(team, "--as", "alice", "deal", "list")
    assert [d["title"] for d in listed] == ["Support", "Licences"]  # newest first
    assert all(set(d) == DEAL_KEYS for d in listed)
    licences = listed[1]
    assert licences["customer_id"] == alices and licences["customer_name"] == "甲公司"
    assert licences["amount"] == "12500.50" and licences["probability"] == "0.50"
    assert licences["stage"] == "proposal" and licences["owner"] == "alice"
    assert licences["expected_close"] is None

    assert [d["title"] for d in crm_json(team, "--as", "alice", "deal", "list", "--stage", "won")] \
        == ["Support"]
    assert [d["title"] for d in crm_json(team, "--as", "alice", "deal", "list", "--mine")] \
        == ["Support", "Licences"]
    assert crm_json(team, "--as", "alice", "deal", "list", "--stage", "qualified") == []
    # A colleague's customer is not found for a rep, even by id.
    code, _, err = crm(team, "--as", "alice", "deal", "list", str(bobs))
    assert code == 4 and str(bobs) in err

    # The manager sees the team's deals and not another team's; the admin sees all.
    managed = crm_json(team, "--as", "carol", "deal", "list")
    assert {d["customer_id"] for d in managed} == {alices, bobs}
    assert crm_json(team, "--as", "carol", "deal", "list", "--mine") == []
    everything = crm_json(team, "deal", "list", "--all")
    assert {d["customer_id"] for d in everything} == {alices, bobs, daves}
    assert [d["title"] for d in crm_json(team, "deal", "list", "--stage", "proposal")] \
        == ["Servers", "Licences"]
    assert [d["title"] for d in crm_json(team, "deal", "list", "West Co")] == ["Training"]
    assert len(crm_json(team, "deal", "list", "--limit", "2")) == 2


def test_deal_list_text_and_usage(team: str) -> None:
    _customer_with_deals(team, "alice", "张伟", ("服务器", "12000.5", "negotiation"))
    code, out, err = crm(team, "--as", "alice", "deal", "list")
    assert code == 0, err
    assert "张伟" in out and "服务器" in out and "12,000.50" in out and "negotiation" in out
    code, out, _ = crm(team, "--as", "bob", "deal", "list")
    assert code == 0 and "服务器" not in out
    code, _, err = crm(team, "deal", "list", "--stage", "maybe")
    assert code == 2 and "stage" in err
    code, _, _ = crm(team, "deal", "list", "--mine", "--all")
    assert code == 2
    code, _, err = crm(team, "deal", "list", "999999")
    assert code == 4
