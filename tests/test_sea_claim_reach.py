"""A refused claim names the owner only where the claimer could have seen the customer (issue 14
item 2): in the open sea moments ago (``claim.CLAIM_RACE_WINDOW``), or in a private sea they
see. Anything else is answered as for any customer out of reach. Store and CLI, both backends."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from crm_tui.cli.app import app
from crm_tui.config import os_login
from crm_tui.store import NotFound, RuleRefused, Store
from crm_tui.store.schema.setup import initialise
from crm_tui.store.sea.claim import CLAIM_RACE_WINDOW

WINDOW_MINUTES = CLAIM_RACE_WINDOW.total_seconds() / 60


@pytest.fixture
def alice(make_rep):
    return make_rep("alice", team="east", name="Alice Wang")


@pytest.fixture
def bob(make_rep):
    return make_rep("bob", team="west")


def test_a_customer_never_in_the_open_sea_is_out_of_reach(store, alice, bob):
    """The issue's `crm claim 2006`: another rep's private customer, added to their book."""
    secret = store.add_customer(alice, {"name": "Secret Ltd"})
    with pytest.raises(NotFound) as shown:
        store.get_customer(secret.id, bob)
    with pytest.raises(NotFound) as claimed:
        store.claim(secret.id, bob)
    assert type(claimed.value) is NotFound
    assert str(claimed.value) == str(shown.value) == f"No customer {secret.id} that you may see."
    with pytest.raises(NotFound) as missing:
        store.claim(secret.id + 1000, bob)
    assert str(missing.value) == f"No customer {secret.id + 1000} that you may see."


def test_the_owner_is_named_within_the_window_after_the_claim_and_not_after(
    store, admin, alice, bob, clock
):
    acme = store.add_customer(admin, {"name": "Acme"}, pool=True)
    store.claim(acme.id, alice)
    clock.advance(minutes=WINDOW_MINUTES - 1)
    with pytest.raises(RuleRefused, match=r"already claimed by Alice Wang \(alice\)"):
        store.claim(acme.id, bob)
    clock.advance(minutes=2)
    with pytest.raises(NotFound) as late:
        store.claim(acme.id, bob)
    assert str(late.value) == f"No customer {acme.id} that you may see."


def test_a_transfer_does_not_open_the_window(store, admin, alice, bob, make_rep, clock):
    """A customer moved between private seas was never in anyone's open sea."""
    carol = make_rep("carol", team="east")
    acme = store.add_customer(alice, {"name": "Acme"})
    clock.advance(days=1)
    store.transfer(admin, "alice", "carol", [acme.id])
    with pytest.raises(NotFound):
        store.claim(acme.id, bob)
    assert store.get_customer(acme.id, carol).owner == "carol"


def test_those_who_see_the_private_sea_are_told_its_owner(store, alice, make_rep, clock):
    manager = make_rep("mia", role="manager", team="east")
    acme = store.add_customer(alice, {"name": "Acme"})
    clock.advance(days=10)
    with pytest.raises(RuleRefused, match=r"already claimed by Alice Wang \(alice\)"):
        store.claim(acme.id, manager)
    with pytest.raises(RuleRefused, match="already in your private sea"):
        store.claim(acme.id, alice)


# --- the CLI: exit 4 and the sentence `show` gives ------------------------------------------


runner = CliRunner()


@pytest.fixture
def url(db_url: str) -> Iterator[str]:
    result = initialise(db_url, os_login(), prefer_database_role=True)
    store = Store(db_url)
    admin = store.actor(result.admin_created)
    store.add_rep(admin, "alice", "Alice Wang", team="east")
    store.add_rep(admin, "bob", "Bob", team="west")
    store.close()
    yield db_url


def crm(url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--db", url, *args], env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def test_cli_claim_of_a_private_customer_answers_as_show_does(url):
    code, out, err = crm(url, "--as", "alice", "add", "Secret Ltd", "--json")
    assert code == 0, err
    secret = json.loads(out)["id"]
    shown = crm(url, "--as", "bob", "show", str(secret))
    claimed = crm(url, "--as", "bob", "claim", str(secret))
    assert shown[0] == claimed[0] == 4
    assert claimed[2] == shown[2] and "alice" not in claimed[2].lower()

    code, out, err = crm(url, "add", "Acme", "--pool", "--json")
    acme = json.loads(out)["id"]
    assert crm(url, "--as", "alice", "claim", str(acme))[0] == 0
    code, _, err = crm(url, "--as", "bob", "claim", str(acme))
    assert code == 3 and "already claimed by Alice Wang (alice)" in err
