"""PostgreSQL change notifications (DESIGN §6): every committed change is heard, nothing else is.

The store sends ``crm_changes`` after the commit from its own thread, coalescing bursts
(``store.notify``); these tests listen with a plain psycopg connection, as another client's
``ChangeWatcher`` does.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from crm_tui.store import RuleRefused, Store
from crm_tui.store.db.live import parse_payload


@pytest.fixture
def alice(make_rep):  # type: ignore[no-untyped-def]
    return make_rep("alice", team="east")


@pytest.fixture
def bob(make_rep):  # type: ignore[no-untyped-def]
    return make_rep("bob", team="east")


@pytest.fixture
def pool_customer(store, admin):  # type: ignore[no-untyped-def]
    return lambda name: store.add_customer(admin, {"name": name}, pool=True)


@pytest.fixture
def listener(store: Store, db_url: str) -> Iterator[object]:
    if store.is_sqlite:
        pytest.skip("SQLite clients poll PRAGMA data_version instead")
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("LISTEN crm_changes")
        yield conn


def heard_ids(listener, want: set[int], seconds: float = 5.0) -> tuple[set[int] | None, int]:  # type: ignore[no-untyped-def]
    """The ids announced until ``want`` is covered (None once "*" was heard), and how many
    notifications that took."""
    got: set[int] = set()
    notices = 0
    deadline = time.monotonic() + seconds
    while not want <= got and time.monotonic() < deadline:
        for notice in listener.notifies(timeout=max(0.05, deadline - time.monotonic()), stop_after=1):
            notices += 1
            ids = parse_payload(notice.payload)
            if ids is None:
                return None, notices
            got |= ids
    return got, notices


def test_a_burst_of_claims_is_heard_whole_and_in_fewer_notices(store, admin, alice, pool_customer, listener):
    customers = [pool_customer(f"Burst {n}").id for n in range(15)]  # within the daily limit
    heard_ids(listener, set(customers), seconds=0.5)  # drain the notices of their creation
    for cid in customers:
        store.claim(cid, alice)
    got, notices = heard_ids(listener, set(customers))
    assert got is not None and set(customers) <= got
    assert notices < len(customers)  # coalesced: the listener woke fewer times than claims


def test_a_refused_or_rolled_back_write_announces_nothing(store, admin, alice, bob, pool_customer, listener):
    acme = pool_customer("Acme")
    heard_ids(listener, {acme.id}, seconds=0.5)
    store.claim(acme.id, alice)
    assert heard_ids(listener, {acme.id})[0] == {acme.id}
    with pytest.raises(RuleRefused):
        store.claim(acme.id, bob)
    assert list(listener.notifies(timeout=0.5)) == []


CLAIM_AND_EXIT = """
import sys
from crm_tui.store import Store
store = Store(sys.argv[1])
for customer_id in sys.argv[2:]:
    store.claim(int(customer_id), store.actor("alice"))
"""  # no close(): a process that ends right after its commits, as every ``crm`` command does


def test_a_process_that_exits_right_after_its_claims_is_heard(store, alice, pool_customer, listener, db_url):
    """The second claim's notice is still waiting out the coalescing interval when the process
    ends: the exit handler sends it."""
    customers = {pool_customer("Acme").id, pool_customer("Beta").id}
    heard_ids(listener, customers, seconds=0.5)
    result = subprocess.run([sys.executable, "-c", CLAIM_AND_EXIT, db_url, *map(str, sorted(customers))],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert heard_ids(listener, customers)[0] == customers


def test_a_crm_claim_command_is_heard(store, admin, pool_customer, listener, db_url):
    """The real ``crm`` ends with ``exit_now`` (no interpreter teardown): its notice still goes."""
    from pathlib import Path

    with store.read() as conn:
        role = conn.exec_driver_sql("SELECT current_user").scalar()
    store.add_rep(admin, role, "The database role")
    acme = pool_customer("Acme")
    heard_ids(listener, {acme.id}, seconds=0.5)
    crm = Path(sys.executable).with_name("crm")
    command = [str(crm)] if crm.exists() else [sys.executable, "-m", "crm_tui"]
    result = subprocess.run([*command, "--db", db_url, "claim", str(acme.id)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert heard_ids(listener, {acme.id})[0] == {acme.id}
