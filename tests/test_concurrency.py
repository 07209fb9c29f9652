"""Races between real OS processes (DESIGN §4, §10, §11), on SQLite and PostgreSQL.

Each worker is a separate process (multiprocessing's forkserver: forked from a clean server
that has only imported the store, never from pytest itself) that opens its own ``Store`` on the
test database, connects, then waits at a barrier so all of them fire at the same moment.

A deliberately naive select-then-update claim runs the same race as a control: it must produce
double claims, which proves the race test can catch a regression in the real claim.
"""

from __future__ import annotations

import multiprocessing
import random
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from crm_tui.store import Clock, Store
from crm_tui.store.db.base import customer_t, ownership_t

WORKERS = 16
BARRIER_TIMEOUT = 120


# --- what runs in the worker processes ----------------------------------------------------------


def _open(url: str, login: str) -> tuple[Store, Any]:
    store = Store(url)
    return store, store.actor(login)  # connected before the barrier: the race is the claims


def naive_claim(store: Store, actor: Any, customer_id: int) -> None:
    """The control: read the owner, then write it, in two steps (never do this)."""
    from crm_tui.store import RuleRefused

    with store.read() as conn:
        owner = conn.execute(select(customer_t.c.owner_id).where(customer_t.c.id == customer_id)).scalar()
    if owner is not None:
        raise RuleRefused("taken", f"Customer {customer_id} is already claimed.")
    with store.write() as conn:
        conn.execute(update(customer_t).where(customer_t.c.id == customer_id)
                     .values(owner_id=actor.id, version=customer_t.c.version + 1))
        store._ownership(conn, [customer_id], "claimed", actor, None, actor.id, None)


def claim_worker(barrier: Any, url: str, login: str, customer_ids: list[int],
                 naive: bool = False) -> dict[str, Any]:
    """Claim every customer in ``customer_ids``; report wins, refusals by rule, other errors."""
    from crm_tui.store import RuleRefused

    store, actor = _open(url, login)
    won: list[int] = []
    refused: Counter[str] = Counter()
    errors: list[str] = []
    barrier.wait(BARRIER_TIMEOUT)
    for customer_id in customer_ids:
        try:
            if naive:
                naive_claim(store, actor, customer_id)
            else:
                store.claim(customer_id, actor)
            won.append(customer_id)
        except RuleRefused as exc:
            refused[exc.rule] += 1
        except Exception as exc:  # noqa: BLE001 - anything else is what the test looks for
            errors.append(f"{type(exc).__name__}: {exc}")
    store.close()
    return {"login": login, "won": won, "refused": dict(refused), "errors": errors}


def recycle_worker(barrier: Any, url: str) -> dict[str, Any]:
    store = Store(url)
    store.rules()
    barrier.wait(BARRIER_TIMEOUT)
    try:
        moved = [item.customer_id for item in store.recycle(None)]
        return {"moved": moved, "errors": []}
    except Exception as exc:  # noqa: BLE001
        return {"moved": [], "errors": [f"{type(exc).__name__}: {exc}"]}
    finally:
        store.close()


def transfer_worker(barrier: Any, url: str, login: str, from_login: str, to_login: str) -> dict[str, Any]:
    store, actor = _open(url, login)
    barrier.wait(BARRIER_TIMEOUT)
    try:
        moved = store.transfer(actor, from_login, to_login, all_customers=True).customers
        return {"moved": moved, "errors": []}
    except Exception as exc:  # noqa: BLE001
        return {"moved": [], "errors": [f"{type(exc).__name__}: {exc}"]}
    finally:
        store.close()


def release_worker(barrier: Any, url: str, login: str, customer_ids: list[int]) -> dict[str, Any]:
    from crm_tui.store import RuleRefused

    store, actor = _open(url, login)
    moved: list[int] = []
    errors: list[str] = []
    barrier.wait(BARRIER_TIMEOUT)
    for customer_id in customer_ids:
        try:
            store.release(customer_id, actor, "no intent")
            moved.append(customer_id)
        except RuleRefused as exc:
            if exc.rule != "open_sea":  # recycled first: fine
                errors.append(str(exc))
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{type(exc).__name__}: {exc}")
    store.close()
    return {"moved": moved, "errors": errors}


def mixed_writer(barrier: Any, url: str, login: str, pool_ids: list[int], rounds: int,
                 seed: int) -> dict[str, Any]:
    """A rep's busy morning: claim, log, release, add, over and over, as fast as it can."""
    from crm_tui.store import RuleRefused

    store, actor = _open(url, login)
    rnd = random.Random(seed)
    done: Counter[str] = Counter()
    errors: list[str] = []
    barrier.wait(BARRIER_TIMEOUT)
    for n in range(rounds):
        customer_id = rnd.choice(pool_ids)
        try:
            store.claim(customer_id, actor)
            done["claim"] += 1
            store.log_follow_up(actor, customer_id, f"call {n} from {login}", next_at="+3d")
            done["log"] += 1
            store.release(customer_id, actor, rnd.choice(["no budget", "unreachable", "稍后再联系"]))
            done["release"] += 1
            if n % 5 == 0:
                store.add_customer(actor, {"name": f"{login} lead {n}"})
                done["add"] += 1
        except RuleRefused as exc:
            done[f"refused:{exc.rule}"] += 1
        except Exception as exc:  # noqa: BLE001 - "database is locked" would land here
            errors.append(f"{type(exc).__name__}: {exc}")
    store.close()
    return {"done": dict(done), "errors": errors}


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def processes() -> Iterator[tuple[Any, Any]]:
    """A pool of WORKERS processes and a manager for barriers, shared by this module's tests."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["crm_tui.store", "psycopg", "tests.test_concurrency"])
    manager = context.Manager()
    pool = context.Pool(WORKERS)
    yield pool, manager
    pool.close()
    pool.join()
    manager.shutdown()


class StartLine:
    """A barrier whose parties all set off at one wall-clock moment.

    The manager's barrier releases its parties one round trip after another; on a busy 2-core
    machine the first one released could claim every customer before the last one woke up, and
    the race would not be a race. So the first through names a moment just ahead, and every
    party sleeps until it: the kernel wakes them together.
    """

    def __init__(self, barrier: Any, start: Any) -> None:
        self.barrier, self.start = barrier, start

    def wait(self, timeout: float) -> None:
        if self.barrier.wait(timeout) == 0:
            self.start.set(time.time() + 0.25)
        deadline = time.monotonic() + timeout
        while not self.start.get():
            if time.monotonic() > deadline:
                raise TimeoutError("the start was never set")
            time.sleep(0.001)
        time.sleep(max(0.0, self.start.get() - time.time()))


def race(processes: tuple[Any, Any], function: Any, jobs: list[tuple[Any, ...]]) -> list[Any]:
    """Run ``function(start_line, *job)`` for every job at once, one process each."""
    pool, manager = processes
    assert len(jobs) <= WORKERS
    line = StartLine(manager.Barrier(len(jobs)), manager.Value("d", 0.0))
    return pool.starmap(function, [(line, *job) for job in jobs], chunksize=1)


def add_pool_customers(store: Store, count: int, prefix: str = "Race") -> list[int]:
    now = store.clock.now()
    rows = [
        dict(name=f"{prefix} {n}", kind="company", status="lead", owner_id=None, pool_entered_at=now,
             locked=False, search_text="", name_key=f"{prefix.lower()} {n}", created_at=now,
             updated_at=now, version=1)
        for n in range(count)
    ]
    with store.engine.begin() as conn:
        conn.execute(insert(customer_t), rows)
        return list(conn.execute(
            select(customer_t.c.id).where(customer_t.c.name.like(f"{prefix} %")).order_by(customer_t.c.id)
        ).scalars())


def claimed_events(store: Store) -> list[tuple[int, int]]:
    with store.read() as conn:
        return [tuple(row) for row in conn.execute(
            select(ownership_t.c.customer_id, ownership_t.c.to_rep_id)
            .where(ownership_t.c.kind == "claimed").order_by(ownership_t.c.customer_id)
        )]


def owners(store: Store, ids: list[int]) -> dict[int, int | None]:
    with store.read() as conn:
        return dict(conn.execute(
            select(customer_t.c.id, customer_t.c.owner_id).where(customer_t.c.id.in_(ids))
        ).all())


@pytest.fixture
def live(store: Store, db_url: str) -> Iterator[Store]:
    """The test database on the real clock, which the worker processes use too."""
    opened = Store(db_url)
    yield opened
    opened.close()


@pytest.fixture
def reps(store, admin, make_rep) -> list[Any]:
    store.set_rules(admin, {"private_cap": "0", "daily_claim_limit": "0"})
    return [make_rep(f"rep{n:02d}") for n in range(WORKERS)]


# --- the races ----------------------------------------------------------------------------------


def test_sixteen_processes_claim_fifty_customers_each_exactly_once(processes, store, db_url, reps):
    ids = add_pool_customers(store, 50)
    # Every process tries all 50, each starting at its own place in the list: in one shared
    # order, whichever process the scheduler ran first could take all 50 before the others
    # woke up (seen on a loaded 2-core machine), and the race would not be a race.
    jobs = [(db_url, rep.login, ids[3 * n:] + ids[:3 * n]) for n, rep in enumerate(reps)]
    results = race(processes, claim_worker, jobs)
    assert [r["errors"] for r in results] == [[]] * WORKERS
    wins = sorted(cid for r in results for cid in r["won"])
    assert wins == ids  # every customer won once, by exactly one process
    for r in results:
        assert set(r["refused"]) <= {"taken"}
        assert len(r["won"]) + r["refused"].get("taken", 0) == len(ids)
    owned = owners(store, ids)
    rep_of = {rep.login: rep.id for rep in reps}
    assert owned == {cid: rep_of[r["login"]] for r in results for cid in r["won"]}
    assert claimed_events(store) == sorted(owned.items())  # one event per claim, to the owner
    assert len({owner for owner in owned.values()}) > 1  # they really raced


def test_the_naive_claim_double_claims_so_the_race_test_can_fail(processes, store, db_url, reps):
    """Control (DESIGN §11): select-then-update lets several processes "win" one customer."""
    ids = add_pool_customers(store, 50)
    results = race(processes, claim_worker, [(db_url, rep.login, ids, True) for rep in reps])
    assert [r["errors"] for r in results] == [[]] * WORKERS
    wins = [cid for r in results for cid in r["won"]]
    events = claimed_events(store)
    assert len(wins) > len(ids) and len(events) > len(ids), "the control found no double claim"


def test_a_rep_at_cap_minus_one_claiming_from_sixteen_processes_gets_one(
    processes, store, db_url, admin, make_rep
):
    alice = make_rep("alice")
    for n in range(4):
        store.add_customer(alice, {"name": f"Own {n}"})
    store.set_rules(admin, {"private_cap": "5", "daily_claim_limit": "0"})
    ids = add_pool_customers(store, WORKERS)
    results = race(processes, claim_worker, [(db_url, "alice", [cid]) for cid in ids])
    assert [r["errors"] for r in results] == [[]] * WORKERS
    assert sum(len(r["won"]) for r in results) == 1
    assert sum(r["refused"].get("private_cap", 0) for r in results) == WORKERS - 1
    with store.read() as conn:
        assert conn.execute(select(func.count()).where(customer_t.c.owner_id == alice.id)).scalar() == 5


def test_the_daily_limit_holds_under_a_race(processes, store, live, db_url, admin, make_rep):
    alice = make_rep("alice")
    store.set_rules(admin, {"private_cap": "0", "daily_claim_limit": "3"})
    ids = add_pool_customers(store, WORKERS)
    live.claim(ids[0], alice)  # today, as the workers count it
    results = race(processes, claim_worker, [(db_url, "alice", [cid]) for cid in ids[1:]])
    assert [r["errors"] for r in results] == [[]] * (WORKERS - 1)
    assert sum(len(r["won"]) for r in results) == 2
    assert sum(r["refused"].get("daily_claim_limit", 0) for r in results) == WORKERS - 3


def test_cooldown_holds_while_colleagues_race_for_the_customer(
    processes, store, live, db_url, admin, make_rep
):
    alice, bob = make_rep("alice"), make_rep("bob")
    store.set_rules(admin, {"private_cap": "0", "daily_claim_limit": "0"})
    ids = add_pool_customers(store, 10)
    for cid in ids:
        live.claim(cid, alice)
        live.release(cid, alice, "no intent")
    # Bob leaves ids[0] alone, so alice always meets it free: her refusal there can only be
    # the cooldown, whatever order the processes run in.
    raced = ids[1:]
    jobs = [(db_url, "alice", ids)] * (WORKERS // 2) + [(db_url, "bob", raced)] * (WORKERS // 2)
    results = race(processes, claim_worker, jobs)
    assert [r["errors"] for r in results] == [[]] * WORKERS
    alice_results = [r for r in results if r["login"] == "alice"]
    assert all(r["won"] == [] for r in alice_results)
    assert sum(r["refused"].get("reclaim_cooldown_days", 0) for r in alice_results) > 0
    assert set(owners(store, raced).values()) == {bob.id}
    assert owners(store, ids[:1]).get(ids[0]) is None
    assert sorted(cid for r in results for cid in r["won"]) == raced


def test_concurrent_recycles_move_each_customer_once(processes, store, db_url, make_rep):
    from crm_tui.store.sea.recycle import RECYCLE_BATCH

    reps = [make_rep(f"rep{n}") for n in range(3)]
    count = RECYCLE_BATCH * 2 + 50  # several batches, so the runs interleave
    ids = add_pool_customers(store, count)
    long_ago = Clock().now() - timedelta(days=400)  # the workers' clocks are the real one
    with store.engine.begin() as conn:
        for index, cid in enumerate(ids):
            conn.execute(update(customer_t).where(customer_t.c.id == cid).values(
                owner_id=reps[index % 3].id, claimed_at=long_ago, pool_entered_at=None))
    runs = 4
    results = race(processes, recycle_worker, [(db_url,)] * runs)
    assert [r["errors"] for r in results] == [[]] * runs
    moved = [cid for r in results for cid in r["moved"]]
    assert sorted(moved) == ids  # each customer moved by exactly one run
    assert set(owners(store, ids).values()) == {None}
    with store.read() as conn:
        recycled = conn.execute(
            select(ownership_t.c.customer_id).where(ownership_t.c.kind == "recycled")
        ).scalars().all()
    assert sorted(recycled) == ids
    assert store.recycle(None) == []


def test_recycle_transfer_and_release_of_the_same_customers_at_once(
    processes, store, db_url, admin, make_rep
):
    """Recycling while a manager transfers one rep's book and releases another's: no deadlock,
    no error, and every customer ends where its last ownership event says, moved once."""
    manager = make_rep("mia", role="manager", team="east")
    alice, bob = make_rep("alice", team="east"), make_rep("bob", team="east")
    make_rep("carol", team="east")
    ids = add_pool_customers(store, 600)
    long_ago = Clock().now() - timedelta(days=400)
    alices, bobs = ids[:300], ids[300:]
    with store.engine.begin() as conn:
        for owner, chunk in ((alice, alices), (bob, bobs)):
            conn.execute(update(customer_t).where(customer_t.c.id.in_(chunk)).values(
                owner_id=owner.id, claimed_at=long_ago, pool_entered_at=None))
    jobs: list[tuple[Any, ...]] = [(recycle_worker, (db_url,)), (recycle_worker, (db_url,)),
                                   (transfer_worker, (db_url, "mia", "alice", "carol")),
                                   (release_worker, (db_url, "mia", bobs[::-1]))]
    pool, manager_process = processes
    barrier = manager_process.Barrier(len(jobs))
    pending = [pool.apply_async(function, (barrier, *args)) for function, args in jobs]
    results = [job.get(timeout=600) for job in pending]
    assert [r["errors"] for r in results] == [[]] * len(jobs)
    moved = Counter(cid for r in results for cid in r["moved"])
    assert sorted(moved) == ids and set(moved.values()) == {1}
    with store.read() as conn:
        last_event = {}
        for row in conn.execute(select(ownership_t.c.customer_id, ownership_t.c.kind,
                                       ownership_t.c.to_rep_id).order_by(ownership_t.c.id)):
            last_event[row.customer_id] = (row.kind, row.to_rep_id)
    final = owners(store, ids)
    assert {cid: last_event[cid][1] for cid in ids} == final
    assert all(last_event[cid][0] in ("recycled", "transferred") for cid in alices)
    assert all(last_event[cid][0] in ("recycled", "released") for cid in bobs)
    assert manager.id  # the manager acted for both moves


def test_eight_writer_processes_never_see_database_is_locked(processes, store, db_url, reps, admin):
    store.set_rules(admin, {"reclaim_cooldown_days": "0"})
    ids = add_pool_customers(store, 12)
    writers = reps[:8]
    results = race(processes, mixed_writer,
                   [(db_url, rep.login, ids, 40, seed) for seed, rep in enumerate(writers)])
    errors = [e for r in results for e in r["errors"]]
    assert errors == [], errors[:5]
    done = Counter()
    for r in results:
        done.update(r["done"])
    assert done["claim"] > 0 and done["log"] == done["claim"] and done["release"] == done["claim"]
    assert set(done) <= {"claim", "log", "release", "add", "refused:taken"}
    with store.read() as conn:
        counts = dict(conn.execute(
            select(ownership_t.c.kind, func.count()).group_by(ownership_t.c.kind)
        ).all())
    assert counts["claimed"] == done["claim"] and counts["released"] == done["release"]
