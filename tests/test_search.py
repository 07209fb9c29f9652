"""Search on both backends: names, pinyin, initials, CJK 1-2 characters, phone digits, email,
contacts, companies, ranking, visibility, and user input kept out of the query syntax."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_tui.store.search.tokens import customer_tokens, query_terms


@pytest.fixture
def people(store, admin):
    """A handful of customers owned by the admin; returns name -> id."""
    rows = [
        {"name": "张伟", "phone": "138 0013 8000", "email": "zhang.wei@example.com"},
        {"name": "张伟明", "company": "上海恒信科技有限公司"},
        {"name": "曾小明", "phone": "+86 139 1234 5678"},
        {"name": "单田芳"},
        {"name": "区先生"},
        {"name": "解放"},
        {"name": "Acme Trading Ltd", "email": "sales@acme-trading.com"},
        {"name": "Zoë Müller", "phone": "+49 30 12345678"},
    ]
    ids = {row["name"]: store.add_customer(admin, row, force=True).id for row in rows}
    store.add_contact(admin, ids["Acme Trading Ltd"],
                      {"name": "李娜", "phone": "186 2222 3333", "email": "li.na@acme.com"})
    return ids


def names(store, actor, query, **kwargs):
    return [record.name for record in store.find(actor, query, **kwargs)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("zw", "张伟"),
        ("zhangwei", "张伟"),
        ("zhang wei", "张伟"),
        ("张", "张伟"),
        ("伟", "张伟"),
        ("张伟", "张伟"),
        ("伟明", "张伟明"),
        ("恒信", "张伟明"),
        ("上海恒信科技", "张伟明"),
        ("shanghai", "张伟明"),
        ("zeng", "曾小明"),
        ("ceng", "曾小明"),
        ("zxm", "曾小明"),
        ("shan", "单田芳"),
        ("ou", "区先生"),
        ("xie", "解放"),
        ("acme", "Acme Trading Ltd"),
        ("trad", "Acme Trading Ltd"),
        ("ACME trading", "Acme Trading Ltd"),
        ("zoe", "Zoë Müller"),
        ("muller", "Zoë Müller"),
        ("8000", "张伟"),
        ("0013 8", "张伟"),
        ("138-0013-8000", "张伟"),
        ("+86 13800138000", "张伟"),
        ("12345678", "Zoë Müller"),
        ("1234", "曾小明"),
        ("zhang.wei@example", "张伟"),
        ("李娜", "Acme Trading Ltd"),
        ("lina", "Acme Trading Ltd"),
        ("2222 3333", "Acme Trading Ltd"),
    ],
)
def test_finds_by(store, admin, people, query, expected):
    assert expected in names(store, admin, query)


def test_ranks_exact_then_prefix_then_the_rest(store, admin, people):
    store.add_contact(admin, people["Acme Trading Ltd"], {"name": "张伟"})
    found = names(store, admin, "张伟")
    assert found[:2] == ["张伟", "张伟明"]
    assert set(found[2:]) == {"Acme Trading Ltd"}


def test_no_match_and_empty_query(store, admin, people):
    assert names(store, admin, "nobody-here-xyz") == []
    assert len(names(store, admin, "")) == len(people)


def test_offset_pages_through_ranked_results(store, admin, people):
    full = names(store, admin, "z", limit=50)
    paged = [n for offset in range(0, len(full), 2) for n in names(store, admin, "z", limit=2, offset=offset)]
    assert paged == full
    assert len(full) == len(set(full))


def test_a_rep_never_finds_another_reps_customer(store, admin, make_rep, people):
    alice = make_rep("alice")
    bob = make_rep("bob")
    store.add_customer(alice, {"name": "张伟伦"})
    store.add_customer(alice, {"name": "张伟海"}, pool=True)
    found = names(store, bob, "张伟")
    assert "张伟伦" not in found
    assert "张伟海" in found
    assert "张伟伦" in names(store, alice, "zwl")
    assert names(store, bob, "zwl") == []
    assert store.search_ids(bob, "张伟伦") == []


def test_scopes(store, admin, make_rep):
    alice = make_rep("alice")
    mine = store.add_customer(alice, {"name": "王芳"}).id
    pooled = store.add_customer(alice, {"name": "王芳芳"}, pool=True).id
    assert [r.id for r in store.find(alice, "wf", scope="mine")] == [mine]
    assert [r.id for r in store.find(alice, "wf", scope="pool")] == [pooled]
    assert {r.id for r in store.find(alice, "wf", scope="all")} == {mine, pooled}


def test_index_follows_edits(store, admin, people):
    store.update_customer(admin, people["单田芳"], {"name": "钱学森"})
    assert "钱学森" in names(store, admin, "qxs")
    assert names(store, admin, "单田芳") == []


@pytest.mark.parametrize("run", ["13800138000", "8613800138000", "0013800", "38000", "800",
                                 "86138", "138001"])
def test_any_run_of_digits_finds_the_phone(store, admin, run):
    """Runs of every length and position, including the last three digits and the country code."""
    cid = store.add_customer(admin, {"name": "电话客户", "phone": "+86 138 0013 8000"}, force=True).id
    assert cid in {r.id for r in store.find(admin, run)}
    assert cid in store.search_ids(admin, run)


def test_digit_grams_scattered_are_not_a_match(store, admin):
    """``12345678`` is looked up by the 4-grams 1234 and 5678; a number holding both apart is
    not a match, nor is one holding every gram of the run but not the run itself."""
    apart = store.add_customer(admin, {"name": "分开", "phone": "+8615678012345"},
                               force=True).id
    together = store.add_customer(admin, {"name": "连续", "phone": "+8613912345678"}, force=True).id
    scattered = store.add_customer(admin, {"name": "散落", "phone": "+8613956781234"}, force=True).id
    found = {r.id for r in store.find(admin, "12345678")}
    assert together in found
    assert not found & {apart, scattered}
    assert store.search_ids(admin, "56781234") == [scattered]


def test_long_digit_runs_in_contacts_email_and_names(store, admin):
    acme = store.add_customer(admin, {"name": "Shop 20261125"}, force=True).id
    mail = store.add_customer(admin, {"name": "邮箱", "email": "13912345678@qq.com"}, force=True).id
    via_contact = store.add_customer(admin, {"name": "联系人"}, force=True).id
    store.add_contact(admin, via_contact, {"name": "王五", "phone": "+86 186 5555 4444"})
    assert store.search_ids(admin, "261125") == [acme]
    assert store.search_ids(admin, "9123456") == [mail]
    assert store.search_ids(admin, "65555444") == [via_contact]
    store.update_customer(admin, acme, {"name": "Shop"})
    assert store.search_ids(admin, "261125") == []


def test_phone_tokens_are_few_distinct_terms():
    tokens = customer_tokens("x", phone="+8613800138000").split()
    assert "1380" in tokens and "8000" in tokens and "000" in tokens
    assert max(len(t) for t in tokens if t.isdigit()) == 4


def test_tokens_read_every_surname_reading():
    tokens = customer_tokens("曾小明").split()
    assert {"zeng", "ceng", "zengxiaoming", "cengxiaoming", "zxm", "cxm"} <= set(tokens)


SYNTAX = '"*:()&|!^-+\'\\;{}[]<>~@.%_,/'


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_query_terms_are_only_letters_and_digits(raw):
    for term in query_terms(raw):
        assert term
        # Letters, digits or CJK (including code points newer than this Python's tables).
        assert all(ch.isalnum() or ord(ch) >= 0x3400 for ch in term), term
        assert not set(term) & set(SYNTAX), term


HOSTILE = st.text(
    alphabet=st.sampled_from(list(SYNTAX + " NEARORANDNOT张伟z0") + ["\x00"]),
    max_size=30,
)


@given(raw=HOSTILE)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_input_searches_without_error(store, admin, raw):
    """FTS5 and tsquery operators typed into the search box are text, never syntax."""
    store.find(admin, raw, limit=5)
    assert isinstance(store.search_ids(admin, raw), list)
