"""The virtual table's listing on both backends: pages agree with the whole ordered list whichever
way they are read (forwards, from the end in reverse, or on from a keyset anchor)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_tui.store.search import listing as listing_mod
from crm_tui.store.search.listing import SORTABLE, ListQuery
from crm_tui.store.search.sort_key import name_sort_key

SORTS = ["name", "company", "status", "tier", "owner", "last_follow_up_at", "next_follow_up_at",
         "phone"]


@pytest.fixture
def book(store, admin, make_rep, clock):
    """37 customers with ties and NULLs in every sort key, owned by three people and the pool."""
    alice = make_rep("alice")
    bob = make_rep("bob")
    owners = [admin, alice, bob]
    names = ["张伟", "李娜", "王芳", "Acme", "acme", "Zeta", "曾小明", "区先生", "Bravo"]
    for i in range(37):
        owner = owners[i % 3]
        fields = {
            # Names and phones repeat within one owner (ties), never across (duplicate check).
            "name": names[i % len(names)] + ("" if owner is admin else f" {owner.login}"),
            "company": None if i % 4 == 0 else f"公司{i % 5}",
            "phone": None if i % 5 == 0 else f"13{7 + i % 3}0013{i % 7:04d}",
            "status": ["lead", "intent", "deal", "lost"][i % 4],
            "tier": [None, "A", "B", "C"][i % 4],
            "source": ["展会", "website"][i % 2],
            "region": ["上海", "北京", "Berlin"][i % 3],
        }
        record = store.add_customer(owner, fields, force=True, pool=(i % 6 == 5),
                                    tags=["VIP"] if i % 3 == 0 else None)
        if i % 6 != 5 and i % 2 == 0:
            store.log_follow_up(owner, record.id, "called",
                                next_at=clock.today() + timedelta(days=(i % 9) - 4),
                                at=clock.now() - timedelta(days=5 + i % 9, hours=i % 5))
    return {"admin": admin, "alice": alice, "bob": bob}


def whole(store, actor, query):
    return [r.id for r in store.customer_page(actor, query, 0, 10_000)]


def paged(store, actor, query, size):
    total = store.count_customers(actor, query)
    out = []
    for offset in range(0, total, size):
        out += [r.id for r in store.customer_page(actor, query, offset, size)]
    return out


def key_of(record, sort):
    if sort == "name":  # names sort by pinyin / alphabetically (issue 15 item 8)
        return name_sort_key(record.name)
    return getattr(record, "owner" if sort == "owner" else sort)


def test_pages_match_the_whole_list_every_way(store, book, monkeypatch):
    """Each sort, both directions: plain OFFSET, reverse from the end, and keyset anchors."""
    admin = book["admin"]
    for sort in SORTS:
        for descending in (False, True):
            query = ListQuery(scope="all", sort=sort, descending=descending)
            label = f"{sort} {'desc' if descending else 'asc'}"
            monkeypatch.setattr(listing_mod, "REVERSE_FROM", 10**9)
            monkeypatch.setattr(listing_mod, "ANCHOR_REACH", 0)
            full = whole(store, admin, query)
            assert len(full) == store.count_customers(admin, query) == 37
            assert sorted(full) == sorted(set(full))
            assert paged(store, admin, query, 5) == full, f"plain OFFSET, {label}"

            monkeypatch.setattr(listing_mod, "REVERSE_FROM", 0)
            store.forget_listing_cache()
            assert paged(store, admin, query, 4) == full, f"reverse from the end, {label}"
            for offset in (36, 30, 19, 18):
                got = [r.id for r in store.customer_page(admin, query, offset, 6)]
                assert got == full[offset:offset + 6], f"reverse at {offset}, {label}"

            monkeypatch.setattr(listing_mod, "REVERSE_FROM", 10**9)
            monkeypatch.setattr(listing_mod, "ANCHOR_REACH", 5_000)
            store.forget_listing_cache()
            assert paged(store, admin, query, 3) == full, f"keyset anchors, {label}"
            got = [r.id for r in store.customer_page(admin, query, 7, 9)]
            assert got == full[7:16], f"anchor then skip, {label}"


def test_the_order_is_the_sort_key_then_id(store, book):
    for sort in SORTS:
        records = store.customer_page(book["admin"], ListQuery(scope="all", sort=sort), 0, 100)
        # Open-sea phones are shown masked, so they are left out of the phone order check.
        keyed = [(key_of(r, sort), r.id) for r in records if not (sort == "phone" and r.masked)]
        present = [k for k in keyed if k[0] is not None]
        assert present == sorted(present), sort
        nulls = [k for k in keyed if k[0] is None]
        assert [k[1] for k in nulls] == sorted(k[1] for k in nulls), sort
        if nulls and present:  # NULLs together at one end
            assert keyed[: len(nulls)] == nulls or keyed[-len(nulls):] == nulls, sort


FILTERS = [
    ({"status": "deal"}, lambda r: r.status == "deal"),
    ({"tier": "A"}, lambda r: r.tier == "A"),
    ({"tag": "VIP"}, lambda r: "VIP" in r.tags),
    ({"source": "展会"}, lambda r: r.source == "展会"),
    ({"region": "Berlin"}, lambda r: r.region == "Berlin"),
    ({"text": "zw"}, lambda r: r.name.startswith("张伟")),
    ({"text": "acme"}, lambda r: r.name.lower().startswith("acme")),
    ({"scope": "pool"}, lambda r: r.owner is None),
    ({"scope": "mine"}, lambda r: r.owner == "boss"),
]


def test_filters(store, book):
    admin = book["admin"]
    everything = store.customer_page(admin, ListQuery(scope="all"), 0, 100)
    for changes, check in FILTERS:
        query = ListQuery(scope="all").with_(**changes)
        records = store.customer_page(admin, query, 0, 100)
        assert records and all(check(r) for r in records), changes
        assert store.count_customers(admin, query) == len(records), changes
        assert len(records) == sum(1 for r in everything if check(r)), changes


def test_due_filter(store, book, clock):
    query = ListQuery(scope="all", due=True, sort="next_follow_up_at")
    records = store.customer_page(book["admin"], query, 0, 100)
    assert records and all(r.next_follow_up_at <= clock.today() for r in records)


def test_a_rep_lists_only_what_they_may_see(store, book):
    alice = book["alice"]
    query = ListQuery(scope="all", sort="owner")
    seen = store.customer_page(alice, query, 0, 100)
    assert {r.owner for r in seen} == {"alice", None}
    assert paged(store, alice, query, 4) == [r.id for r in seen]


def test_capped_count(store, book):
    query = ListQuery(scope="all")
    assert store.count_customers(book["admin"], query, cap=10) == 10
    assert store.count_customers(book["admin"], query, cap=1000) == 37


def test_own_writes_refresh_counts_and_anchors(store, book, monkeypatch):
    admin = book["admin"]
    monkeypatch.setattr(listing_mod, "REVERSE_FROM", 0)
    query = ListQuery(scope="all", sort="name")
    assert store.count_customers(admin, query) == 37
    store.customer_page(admin, query, 0, 10)
    store.add_customer(admin, {"name": "AAA first"})
    assert store.count_customers(admin, query) == 38
    full = whole(store, admin, query)
    assert full[0] == store.customer_page(admin, query, 0, 1)[0].id
    assert [r.id for r in store.customer_page(admin, query, 10, 5)] == full[10:15]
    assert [r.id for r in store.customer_page(admin, query, 33, 10)] == full[33:]


def test_every_sort_key_is_sortable():
    assert set(SORTS) <= set(SORTABLE)
