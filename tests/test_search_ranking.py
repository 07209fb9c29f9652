"""Issue 15 items 6-8 on both backends: pinyin read by words and heteronyms (重庆 is chongqing,
博远 is boyuan wherever it stands), results ranked by the field the query is found in (the same
order in ``crm find`` and the list), and names sorted by pinyin beside Latin ones."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm_tui.store.records import ListQuery
from crm_tui.store.search.sort_key import name_sort_key
from crm_tui.store.search.tokens import customer_tokens, query_terms, text_tokens

CHONGQING = ["重庆万象信息技术股份有限公司", "重庆火锅", "重庆长江物流有限公司"]
BOYUAN = [
    "博远科技", "沈阳博远生物有限责任公司", "武汉博远软件集团", "香港博远服饰有限责任公司",
    "福州博远医药集团", "拉萨博远电子有限公司", "深圳博远医药有限公司", "青岛博远生物工作室",
    "杭州博远生物集团", "宁波博远供应链集团", "济南博远物流商行", "合肥博远机械有限责任公司",
    "长沙博远餐饮管理集团", "成都博远环保集团",
]


def names(store, actor, query, **kwargs):
    return [record.name for record in store.find(actor, query, **kwargs)]


def add_all(store, admin, rows):
    return {row if isinstance(row, str) else row["name"]:
            store.add_customer(admin, {"name": row} if isinstance(row, str) else row,
                               force=True).id
            for row in rows}


# --- item 6: pinyin ------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["重庆", "chongqing", "cq", "chong qing", "cqwx"])
def test_chongqing_by_its_reading(store, admin, query):
    """重庆 is chóng qìng (a known word), not zhòng qìng as 重 alone reads."""
    add_all(store, admin, CHONGQING + ["北京万象"])
    found = set(names(store, admin, query))
    if query == "cqwx":
        assert found == {"重庆万象信息技术股份有限公司"}
    else:
        assert found == set(CHONGQING)


def test_boyuan_finds_every_name_holding_it(store, admin):
    """14 names with 博远 at the start or after a city: ``boyuan`` finds all 14 (it found 11)."""
    add_all(store, admin, BOYUAN + ["沈阳远博科技", "博大远航"])
    assert set(names(store, admin, "boyuan", limit=50)) == set(BOYUAN)
    assert set(names(store, admin, "博远", limit=50)) == set(BOYUAN)
    assert set(names(store, admin, "boyuan shengwu", limit=50)) == {
        "沈阳博远生物有限责任公司", "青岛博远生物工作室", "杭州博远生物集团"}
    assert "沈阳博远生物有限责任公司" in names(store, admin, "by", limit=50)


def test_place_names_read_as_words(store, admin):
    """长沙 changsha, 成都 chengdu, 厦门 xiamen: read as the words they are."""
    add_all(store, admin, ["长沙银行", "成都飞机", "厦门航空"])
    assert names(store, admin, "changsha") == ["长沙银行"]
    assert names(store, admin, "chengdu") == ["成都飞机"]
    assert names(store, admin, "xiamen") == ["厦门航空"]
    assert names(store, admin, "yinhang") == ["长沙银行"]


def test_a_heteronym_outside_a_known_word_keeps_every_reading():
    tokens = set(text_tokens("重朗"))
    assert {"zhonglang", "chonglang"} <= tokens
    # In a known word, one reading: 重要 is zhong yao only.
    assert not any(t.startswith("chongyao") for t in text_tokens("重要"))


def test_tokens_per_name_are_bounded():
    """Pinyin starts at every character, but a start reaches at most SPAN characters."""
    long_name = "中华人民共和国国家发展和改革委员会能源研究所" * 5
    assert len(text_tokens(long_name)) < 200
    assert len(customer_tokens("沈阳博远生物有限责任公司").split()) < 60


# --- item 7: relevance ---------------------------------------------------------------------


def test_hooli_quantum_first_among_many_hooli(store, admin):
    """60 older customers match "hooli" and "q" somewhere; the name that starts with the query
    comes first, within a page of 50 (it came after 50 others, in id order)."""
    for i in range(60):
        cid = store.add_customer(admin, {"name": f"Hooli Analytics {i}"}, force=True).id
        store.add_contact(admin, cid, {"name": f"Quinn {i}"})
    wanted = store.add_customer(admin, {"name": "Hooli Quantum Ltd"}, force=True).id
    found = [r.id for r in store.find(admin, "hooli q", limit=50)]
    assert found[0] == wanted
    listed = store.customer_page(admin, ListQuery(scope="all", text="hooli q"), 0, 50)
    assert listed[0].id == wanted


@pytest.fixture
def pixel(store, admin):
    """The word "pixel" in a name, a company, a contact and an email; "Pixelate" starts a name."""
    ids = {
        "other": store.add_customer(admin, {"name": "Aardvark Ltd", "email": "pixel@aardvark.com"},
                                    force=True).id,
        "contact": store.add_customer(admin, {"name": "Beta GmbH"}, force=True).id,
        "company": store.add_customer(admin, {"name": "Carla Diaz", "kind": "person",
                                              "company": "Pixel Works"}, force=True).id,
        "name word": store.add_customer(admin, {"name": "Zed Pixel Studio"}, force=True).id,
        "prefix": store.add_customer(admin, {"name": "Pixelate Inc"}, force=True).id,
        "exact": store.add_customer(admin, {"name": "PIXEL"}, force=True).id,
    }
    store.add_contact(admin, ids["contact"], {"name": "Pixel Person"})
    return ids


ORDER = ["exact", "prefix", "name word", "company", "contact", "other"]


def test_name_then_company_then_contacts_then_the_rest(store, admin, pixel):
    assert [r.id for r in store.find(admin, "pixel")] == [pixel[k] for k in ORDER]
    assert store.search_ids(admin, "pixel") == [pixel[k] for k in ORDER]


def test_the_list_ranks_a_search_as_find_does(store, admin, pixel):
    """The TUI's list (a search in its default order) shows find's order, page by page."""
    query = ListQuery(scope="all", text="pixel")
    expected = [pixel[k] for k in ORDER]
    assert store.count_customers(admin, query) == len(expected)
    assert [r.id for r in store.customer_page(admin, query, 0, 50)] == expected
    paged = [r.id for offset in range(0, 6, 2) for r in store.customer_page(admin, query, offset, 2)]
    assert paged == expected
    # A sort the user picks is kept: by name, descending, is not ranked.
    by_name = store.customer_page(admin, query.with_(descending=True), 0, 50)
    keys = [name_sort_key(r.name) for r in by_name]
    assert keys == sorted(keys, reverse=True)


def test_a_large_match_set_lists_spelled_out_names_first(store, admin, monkeypatch):
    """Past RANK_CAP matches the list is by name, after the names that start with the query."""
    from crm_tui.store.search import listing
    from crm_tui.store.search import query as query_mod

    monkeypatch.setattr(query_mod, "RANK_CAP", 3)
    monkeypatch.setattr(listing, "RANK_CAP", 3)
    for name in ["Acme Zulu", "Zulu Alpha", "Beta Zulu", "Zulu", "Alpha Zulu"]:
        store.add_customer(admin, {"name": name}, force=True)
    query = ListQuery(scope="all", text="zulu")
    listed = [r.name for r in store.customer_page(admin, query, 0, 50)]
    assert listed == ["Zulu", "Zulu Alpha", "Acme Zulu", "Alpha Zulu", "Beta Zulu"]
    assert [r.name for r in store.customer_page(admin, query, 3, 2)] == listed[3:]
    assert names(store, admin, "zulu")[:2] == ["Zulu", "Zulu Alpha"]


def test_a_ranked_listing_pages_agree_every_way(store, admin, monkeypatch):
    """Past RANK_CAP: the spelled-out names, then the rest by name; pages read forwards or from
    the end agree with the whole list and its count; a head too long to read whole is not
    put first (HEAD_CAP), and the list is by name alone."""
    from crm_tui.store.search import listing
    from crm_tui.store.search import query as query_mod

    monkeypatch.setattr(query_mod, "RANK_CAP", 3)
    monkeypatch.setattr(listing, "RANK_CAP", 3)
    names_ = ["Zulu Works", "Zulu", "Acme Zulu", "Bravo Zulu", "Zulu Alpha", "祖鲁 Zulu",
              "Yankee Zulu", "Xray Zulu"]
    for name in names_:
        store.add_customer(admin, {"name": name}, force=True)
    store.add_customer(admin, {"name": "Charlie", "company": "Zulu Holdings"}, force=True)
    query = ListQuery(scope="all", text="zulu")
    whole = [r.name for r in store.customer_page(admin, query, 0, 100)]
    assert whole[:3] == ["Zulu", "Zulu Alpha", "Zulu Works"]
    rest = whole[3:]
    assert rest == sorted(rest, key=name_sort_key) and len(whole) == 9
    assert store.count_customers(admin, query) == 9
    for reverse_from in (10**9, 0):
        monkeypatch.setattr(listing, "REVERSE_FROM", reverse_from)
        store.forget_listing_cache()
        paged = [r.name for offset in range(0, 9, 2)
                 for r in store.customer_page(admin, query, offset, 2)]
        assert paged == whole, reverse_from
    monkeypatch.setattr(listing, "HEAD_CAP", 2)
    store.forget_listing_cache()
    by_name = [r.name for r in store.customer_page(admin, query, 0, 100)]
    assert by_name == sorted(whole, key=name_sort_key)


# --- item 8: sort ----------------------------------------------------------------------------


SORTED = ["Acme", "白云", "重庆火锅", "Delta", "李娜", "王芳", "曾小明", "詹姆", "张伟", "章伟",
          "张伟明", "Zoë Müller", "Zulu"]


def test_names_sort_by_pinyin_and_alphabet(store, admin):
    for name in reversed(SORTED):
        store.add_customer(admin, {"name": name}, force=True)
    listed = [r.name for r in store.customer_page(admin, ListQuery(scope="all"), 0, 50)]
    assert listed == SORTED
    assert [r.name for r in store.find(admin, "", limit=50)] == SORTED
    back = store.customer_page(admin, ListQuery(scope="all", descending=True), 0, 50)
    assert [r.name for r in back] == SORTED[::-1]


def test_the_sort_key_follows_renames(store, admin):
    cid = store.add_customer(admin, {"name": "Zulu"}).id
    store.add_customer(admin, {"name": "Mike"})
    store.update_customer(admin, cid, {"name": "阿里"})
    listed = [r.name for r in store.customer_page(admin, ListQuery(scope="all"), 0, 50)]
    assert listed == ["阿里", "Mike"]


def test_sort_keys_are_plain_ascii_that_any_collation_orders_alike():
    for name in SORTED + ["Иван", "3M 公司", "A1", "A10"]:
        key = name_sort_key(name)
        assert key and key.isascii() and key.isalnum() and key == key.lower(), name
    assert name_sort_key("A1") < name_sort_key("A10") < name_sort_key("A2")
    assert name_sort_key("詹") < name_sort_key("张")  # zhan before zhang
    assert name_sort_key("曾小明").startswith("zeng0")  # a surname's reading


# --- the migration ---------------------------------------------------------------------------


def test_the_migration_fills_sort_keys_and_tokens(db_url):
    """A database from before: its customers get sort keys and the new tokens."""
    from alembic import command
    from alembic.script import ScriptDirectory

    from crm_tui.store.db.engine import make_engine
    from crm_tui.store.schema import migrate

    script = ScriptDirectory.from_config(migrate._config())
    mine = next(rev for rev in script.walk_revisions()
                if (rev.doc or "").startswith("sort keys and search tokens"))
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            command.downgrade(migrate._config(conn), mine.down_revision)
            conn.commit()
        with engine.begin() as conn:
            for cid, name in enumerate(["重庆火锅", "Acme", "沈阳博远生物"], start=1):
                conn.execute(sa.text(
                    "INSERT INTO customer (id, name, kind, status, locked, created_at, updated_at,"
                    " version, search_text, name_key) VALUES (:id, :name, 'company', 'lead', "
                    ":no, :now, :now, 1, :tokens, :key)"),
                    {"id": cid, "name": name, "no": False, "now": "2026-01-01 00:00:00+00:00",
                     "tokens": name + " zhongqing", "key": name.lower()})
        with engine.connect() as conn:
            command.upgrade(migrate._config(conn), "head")
            conn.commit()
        with engine.connect() as conn:
            rows = dict(conn.execute(sa.text("SELECT name, sort_key FROM customer")).all())
            texts = dict(conn.execute(sa.text("SELECT name, search_text FROM customer")).all())
    finally:
        engine.dispose()
    assert rows == {name: name_sort_key(name) for name in rows}
    assert "chongqinghuoguo" in texts["重庆火锅"].split()
    assert "boyuanshengwu" in texts["沈阳博远生物"].split()
    from crm_tui.store import Store
    from crm_tui.store.schema.setup import initialise

    initialise(db_url, "boss", "The Boss")
    store = Store(db_url)
    try:
        boss = store.actor("boss")
        assert names(store, boss, "chongqing") == ["重庆火锅"]
        assert names(store, boss, "boyuan") == ["沈阳博远生物"]
        assert [r.name for r in store.customer_page(boss, ListQuery(scope="all"), 0, 9)] == [
            "Acme", "重庆火锅", "沈阳博远生物"]
    finally:
        store.close()


def test_query_terms_unchanged_by_the_new_tokens():
    assert query_terms("chongqing cq") == ["chongqing", "cq"]
