"""``crm init --demo N`` on both backends: counts, open-sea share, search, coherent history, valid data."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import select

from crm_tui.store import Store, validate
from crm_tui.store.customers.editing import contact_t
from crm_tui.store.db.base import customer_t, ownership_t
from crm_tui.store.domain import STAGES
from crm_tui.store.schema.models import Deal, FollowUp
from crm_tui.store.schema.setup import initialise
from crm_tui.store.search.tokens import customer_tokens

N = 300
deal_t = Deal.__table__
follow_up_t = FollowUp.__table__


@pytest.fixture
def demo(db_url, clock):
    progress = []
    result = initialise(db_url, "boss", "The Boss", demo=N, clock=clock,
                        progress=lambda done, total: progress.append((done, total)))
    store = Store(db_url, clock=clock)
    yield store, store.actor("boss"), result, progress
    store.close()


def rows(store, table):
    with store.read() as conn:
        return conn.execute(select(table)).all()


def test_counts_and_shares(demo):
    store, admin, result, progress = demo
    customers = rows(store, customer_t)
    assert result.demo_customers == N and len(customers) == N
    assert progress[-1] == (N, N)
    pool = [c for c in customers if c.owner_id is None]
    assert 0.25 < len(pool) / N < 0.42
    assert store.find(admin, "", scope="mine"), "the acting admin owns some customers"
    assert len({c.owner_id for c in customers if c.owner_id}) >= 20
    assert {d.stage for d in rows(store, deal_t)} == set(STAGES)
    assert {c.tier for c in customers} == {None, "A", "B", "C"}
    assert {c.kind for c in customers} == {"company", "person"}
    per_customer = defaultdict(int)
    for contact in rows(store, contact_t):
        per_customer[contact.customer_id] += 1
    assert max(per_customer.values()) <= 3 and len(per_customer) > N / 4
    reps = store.list_reps(admin)
    assert {"rep", "manager", "admin"} <= {r.role for r in reps}


def test_the_demo_book_opens_ranked(demo):
    """Tiers are the ranking rule's from the start: none without won revenue, and a refresh
    (the first one a rep's deal change would run) has nothing to write."""
    store, _, _, _ = demo
    won = {d.customer_id for d in rows(store, deal_t) if d.stage == "won" and d.amount > 0}
    customers = rows(store, customer_t)
    assert {c.tier for c in customers if c.id not in won} == {None}
    assert {c.tier for c in customers if c.id in won} == {"A", "B", "C"}
    assert not store.tiers_stale()
    assert store.refresh_tiers().changed == 0


def test_every_customer_is_found_by_its_name(demo):
    store, admin, _, _ = demo
    by_name = defaultdict(set)
    for c in rows(store, customer_t):
        by_name[c.name].add(c.id)
    for name, ids in by_name.items():
        found = store.find(admin, name, limit=len(ids))
        assert {r.id for r in found} == ids, name


def test_search_text_and_name_key_are_the_stores(demo):
    store, _, _, _ = demo
    contacts = defaultdict(list)
    for contact in rows(store, contact_t):
        contacts[contact.customer_id].append((contact.name, contact.phone, contact.email))
    for c in rows(store, customer_t):
        assert c.search_text == customer_tokens(c.name, c.company, c.phone, c.email, contacts[c.id])
        assert c.name_key == validate.name_key(c.name)


def test_phones_and_emails_are_valid(demo):
    store, _, _, _ = demo
    for item in [*rows(store, customer_t), *rows(store, contact_t)]:
        if item.phone:
            assert validate.phone(item.phone) == item.phone
        if item.email:
            assert validate.email(item.email) == item.email


def test_ownership_history_tells_the_same_story(demo):
    store, _, _, _ = demo
    events = defaultdict(list)
    for event in sorted(rows(store, ownership_t), key=lambda e: (e.at, e.id)):
        events[event.customer_id].append(event)
    for c in rows(store, customer_t):
        history = events[c.id]
        assert history[0].kind == "created"
        last = history[-1]
        assert last.to_rep_id == c.owner_id
        if c.owner_id is None:
            assert c.pool_entered_at == last.at
            assert c.claimed_at is None
            if c.released_by_id is not None:
                assert (last.kind, last.from_rep_id, last.reason) == (
                    "released", c.released_by_id, c.release_reason)
                assert c.release_reason
        else:
            assert c.claimed_at == last.at
            assert last.kind in ("created", "claimed")
            assert c.pool_entered_at is None and c.released_by_id is None


def test_follow_ups_match_the_customer_dates(demo, clock):
    store, _, _, _ = demo
    latest = {}
    for f in rows(store, follow_up_t):
        assert f.at <= clock.now()
        if f.next_at is not None:
            assert f.next_at >= f.at.date()
        if f.customer_id not in latest or f.at > latest[f.customer_id].at:
            latest[f.customer_id] = f
    today = clock.today()
    nexts = []
    for c in rows(store, customer_t):
        if c.id in latest:
            assert c.last_follow_up_at == latest[c.id].at
            if c.owner_id is not None:
                assert c.next_follow_up_at == latest[c.id].next_at
                nexts.append(c.next_follow_up_at)
        else:
            assert c.last_follow_up_at is None
    assert any(d < today for d in nexts) and any(d == today for d in nexts)
    assert any(d > today for d in nexts)


def test_seed_makes_it_deterministic(tmp_path, clock):
    made = []
    for name in ("a.db", "b.db"):
        url = str(tmp_path / name)
        initialise(url, "boss", demo=50, clock=clock)
        store = Store(url, clock=clock)
        made.append([(c.name, c.phone, c.owner_id) for c in rows(store, customer_t)])
        store.close()
    assert made[0] == made[1]


def test_generated_phones_are_valid_in_bulk(clock):
    from crm_tui.store.demo.rows import DemoGenerator

    generator = DemoGenerator(seed=7, n=10, now=clock.now(), today=clock.today(), sqlite=True,
                              admin_id=1, rep_ids=[2], tag_ids=[1], first_id=1)
    for _ in range(5000):
        phone = generator._phone()
        assert validate.phone(phone) == phone


def test_the_worker_process_draws_the_same_rows(clock):
    """Big loads draw their rows in a child process; it must give exactly what this one would."""
    from crm_tui.store.demo import chunks as produce

    settings = dict(seed=3, n=2 * 250 + 7, now=clock.now(), today=clock.today(), sqlite=True,
                    admin_id=1, rep_ids=[2, 3, 4], tag_ids=[1, 2], first_id=1)
    original = produce.CHUNK
    produce.CHUNK = 250
    try:
        here = [vars(batch) for batch in produce.chunks(settings)]
        there = [vars(batch) for batch in produce.chunks_from_worker(settings)]
    finally:
        produce.CHUNK = original
    assert len(here) == 3 and here == there


def test_a_big_fresh_load_builds_its_search_index_aside(tmp_path, clock, monkeypatch):
    """Fresh SQLite loads of WORKER_FROM customers or more index their search text in a third
    process and copy the index in: it must pass FTS5's integrity check and find every customer,
    with WAL on at the end (as any load of the loader would leave it)."""
    import sqlite3

    from crm_tui.store.demo import chunks, generate, load

    monkeypatch.setattr(chunks, "CHUNK", 300)
    monkeypatch.setattr(generate, "WORKER_FROM", 500)
    made = []
    original = load.SideIndex.copy_into
    monkeypatch.setattr(load.SideIndex, "copy_into",
                        lambda self, db: (made.append(self.path), original(self, db))[1])
    path = tmp_path / "big.db"
    initialise(f"sqlite:///{path}", "boss", "The Boss", demo=1000, clock=clock)
    assert made, "the side index was used"
    assert not any(tmp.exists() for tmp in map(Path, made)), "the side file is removed"
    db = sqlite3.connect(path)
    db.execute("INSERT INTO customer_fts(customer_fts) VALUES('integrity-check')")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    store = Store(f"sqlite:///{path}", clock=clock)
    admin = store.actor("boss")
    with store.read() as conn:
        customers = conn.execute(select(customer_t.c.id, customer_t.c.name, customer_t.c.phone)).all()
    assert len(customers) == 1000
    for cid, name, phone in customers[::37]:
        assert cid in store.search_ids(admin, name, limit=1000), name
        if phone:
            assert cid in store.search_ids(admin, phone[-7:], limit=1000), phone
    added = store.add_customer(admin, {"name": "新客户甲"}, force=True).id
    assert store.search_ids(admin, "新客户甲") == [added], "the triggers keep it in step"
    store.close()
