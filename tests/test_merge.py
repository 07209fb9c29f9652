"""Merging two records of one customer (issue 14 item 8), on SQLite and PostgreSQL.

``crm merge KEEP OTHER...`` moves contacts, follow-ups, deals, tags and history into KEEP in one
transaction, fills KEEP's empty fields, audits what was merged and leaves OTHER findable as
"merged into KEEP"; ``crm duplicates`` lists the likely pairs among what the caller may see. A
merge racing an edit of OTHER (real OS processes) loses nothing: the edit lands in KEEP or is
refused with a sentence saying where the customer went.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from crm_tui.cli.app import app
from crm_tui.store import NotFound, PermissionDenied, Store
from crm_tui.store.db.base import audit_t, ownership_t
from crm_tui.store.errors import MergedAway
from crm_tui.store.records import ListQuery

BARRIER_TIMEOUT = 120


@pytest.fixture
def pair(store: Store, make_rep):
    """Alice's two records of 魏博: KEEP with a phone, OTHER with an email and a history."""
    alice = make_rep("alice", team="east")
    keep = store.add_customer(alice, {"name": "魏博", "kind": "person", "phone": "13800138001",
                                      "region": "上海"}, tags=["vip"])
    other = store.add_customer(alice, {"name": "魏 博", "kind": "person", "phone": "13800138001",
                                       "email": "weibo@example.com", "region": "北京"},
                               tags=["wechat", "vip"], force=True)
    store.add_contact(alice, other.id, {"name": "小魏", "phone": "13900139000", "is_primary": True})
    store.log_follow_up(alice, other.id, "called, wants a quote", next_at="+3d")
    store.add_deal(alice, other.id, "Quote", "12000", stage="proposal")
    return alice, keep.id, other.id


def test_merge_moves_everything_into_keep(store: Store, pair):
    alice, keep, other = pair
    with store.read() as conn:
        events = conn.execute(select(ownership_t.c.id).where(ownership_t.c.customer_id == other)).all()
    result = store.merge_customers(alice, keep, [other])
    assert result.merged_ids == [other]
    kept = result.kept
    assert kept.email == "weibo@example.com" and kept.region == "上海"  # filled; kept
    assert kept.extra[f"merged #{other}"] == {"name": "魏 博", "region": "北京"}
    assert sorted(kept.tags) == ["vip", "wechat"]
    assert result.moved["contacts"] == 1 and result.moved["follow_ups"] == 1
    assert result.moved["deals"] == 1 and result.moved["ownership_events"] == len(events)
    portrait = store.portrait(alice, keep, history=True)
    assert [c.name for c in portrait.contacts] == ["小魏"]
    assert [f.summary for f in portrait.follow_ups] == ["called, wants a quote"]
    assert [(d.title, d.owner) for d in portrait.deals] == [("Quote", "alice")]
    assert portrait.customer.next_follow_up_at is not None
    with store.read() as conn:
        merged = conn.execute(select(audit_t.c.field, audit_t.c.new).where(
            audit_t.c.entity == "customer", audit_t.c.entity_id == keep,
            audit_t.c.action == "merge")).all()
    assert ("merged", f"#{other} 魏 博") in merged and ("email", "weibo@example.com") in merged
    # OTHER is gone from every list and count, and found as merged.
    assert {c.id for c in store.find(alice, "")} == {keep}
    assert store.count_customers(alice, ListQuery()) == 1
    with pytest.raises(MergedAway) as gone:
        store.get_customer(other, alice)
    assert str(gone.value) == f"Customer {other} was merged into #{keep}." and gone.value.into == keep


def test_only_the_owner_a_manager_of_the_owners_or_an_admin_may_merge(store: Store, pair, make_rep,
                                                                       admin):
    alice, keep, other = pair
    bob = make_rep("bob", team="east")
    pool = store.add_customer(bob, {"name": "Open", "phone": "13700137000"}, pool=True)
    own = store.add_customer(bob, {"name": "Bob's", "phone": "13700137001"})
    with pytest.raises(NotFound):
        store.merge_customers(bob, own.id, [other])  # not his to see
    with pytest.raises(PermissionDenied) as refused:
        store.merge_customers(bob, own.id, [pool.id])
    assert "Only the owner of every customer merged" in str(refused.value)
    assert refused.value.exit_code == 3 and refused.value.rule == "permission"
    outsider = make_rep("olga", role="manager", team="west")
    with pytest.raises(NotFound):
        store.merge_customers(outsider, keep, [other])
    manager = make_rep("maria", role="manager", team="east")
    assert store.merge_customers(manager, keep, [other]).kept.id == keep
    assert store.merge_customers(admin, own.id, [pool.id]).kept.owner == "bob"
    with pytest.raises(MergedAway):  # merged already: said so, not merged twice
        store.merge_customers(admin, keep, [other])


def test_merging_into_a_merged_customer_follows_the_chain(store: Store, pair, admin):
    alice, keep, other = pair
    third = store.add_customer(alice, {"name": "Wei Bo", "email": "weibo@example.com"}, force=True)
    store.merge_customers(alice, keep, [other])
    store.merge_customers(alice, third.id, [keep])
    with pytest.raises(MergedAway) as gone:
        store.get_customer(other, alice)
    assert gone.value.into == third.id


def test_an_id_given_again_by_sqlite_can_be_merged_again(store: Store, pair):
    alice, keep, other = pair
    store.merge_customers(alice, keep, [other])
    again = store.add_customer(alice, {"name": "Later", "phone": "13600136000"})
    assert store.get_customer(again.id, alice).name == "Later"  # the living one wins
    store.merge_customers(alice, keep, [again.id])
    with pytest.raises(MergedAway):
        store.get_customer(again.id, alice)


def test_duplicates_lists_scored_pairs_among_what_you_may_see(store: Store, pair, make_rep):
    alice, keep, other = pair
    bob = make_rep("bob")
    store.add_customer(bob, {"name": "Bob's own", "email": "b@example.com"})
    pairs = store.duplicate_pairs(alice)
    assert [(p.first_id, p.second_id) for p in pairs] == [(keep, other)]
    assert pairs[0].reasons == ["same phone", "similar name and same phone"]
    assert 80 < pairs[0].score <= 100
    assert store.duplicate_pairs(bob) == []
    store.merge_customers(alice, keep, [other])
    assert store.duplicate_pairs(alice) == []


runner = CliRunner()


def crm(url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--db", url, *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_cli(db_url: str, store: Store, admin):
    """``crm duplicates`` and ``crm merge`` as a user meets them (the caller is the admin)."""
    login = store.database_user()
    if login and login != admin.login:
        store.add_rep(admin, login, "Me", role="admin")
    elif not login:
        from crm_tui import config

        if config.os_login() != admin.login:
            store.add_rep(admin, config.os_login(), "Me", role="admin")
    first = store.add_customer(admin, {"name": "Acme Ltd", "email": "info@acme.com"})
    second = store.add_customer(admin, {"name": "ACME", "email": "info@acme.com"}, force=True)
    code, out, err = crm(db_url, "duplicates", "--json")
    assert code == 0, err
    assert json.loads(out)[0]["reasons"] == ["same email", "same name and company"]
    code, out, err = crm(db_url, "merge", str(first.id), str(second.id), "--json")
    assert code == 0, err
    assert json.loads(out)["merged_ids"] == [second.id]
    code, _, err = crm(db_url, "show", str(second.id))
    assert code == 4 and f"merged into #{first.id}" in err
    code, _, err = crm(db_url, "merge", str(first.id), str(first.id))
    assert code == 2 and "itself" in err


# --- a merge racing an edit of OTHER, in two OS processes ---------------------------------------


def merge_worker(barrier: Any, url: str, login: str, keep: int, other: int) -> str:
    store = Store(url)
    try:
        actor = store.actor(login)
        barrier.wait(BARRIER_TIMEOUT)
        store.merge_customers(actor, keep, [other])
        return "merged"
    except Exception as exc:  # noqa: BLE001 - the test reports it
        return f"{type(exc).__name__}: {exc}"
    finally:
        store.close()


def edit_worker(barrier: Any, url: str, login: str, other: int, version: int, notes: str) -> str:
    from crm_tui.store import CrmError

    store = Store(url)
    try:
        actor = store.actor(login)
        barrier.wait(BARRIER_TIMEOUT)
        store.update_customer(actor, other, {"region": notes}, expected_version=version)
        return "edited"
    except CrmError as exc:
        return f"refused: {exc}"
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"
    finally:
        store.close()


@pytest.fixture(scope="module")
def processes() -> Iterator[tuple[Any, Any]]:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["crm_tui.store", "psycopg", "tests.test_merge"])
    manager = context.Manager()
    pool = context.Pool(2)
    yield pool, manager
    pool.close()
    pool.join()
    manager.shutdown()


def test_a_merge_racing_an_edit_of_other_loses_nothing(store: Store, db_url: str, make_rep,
                                                       processes):
    pool, manager = processes
    alice = make_rep("alice")
    outcomes = set()
    for round_ in range(8):
        keep = store.add_customer(alice, {"name": f"Keep {round_}", "kind": "person",
                                          "phone": f"1380013{round_:04d}"})
        other = store.add_customer(alice, {"name": f"Other {round_}", "kind": "person",
                                           "phone": f"1380013{round_:04d}"}, force=True)
        region = f"Region {round_}"
        barrier = manager.Barrier(2)
        merging = pool.apply_async(merge_worker, (barrier, db_url, "alice", keep.id, other.id))
        editing = pool.apply_async(edit_worker, (barrier, db_url, "alice", other.id,
                                                 other.version, region))
        merged, edited = merging.get(BARRIER_TIMEOUT), editing.get(BARRIER_TIMEOUT)
        assert merged == "merged", merged
        kept = store.get_customer(keep.id, alice)
        if edited == "edited":
            assert kept.region == region  # the edit landed first, and the merge carried it
        else:
            # Read before the merge and written after it (PostgreSQL), or read after it.
            assert edited.startswith(f"refused: Customer {other.id} was merged into #{keep.id}"), edited
            assert kept.region is None
        outcomes.add(edited)
        with pytest.raises(MergedAway):
            store.get_customer(other.id, alice)
    assert outcomes  # each round ended in one of the two ways above
