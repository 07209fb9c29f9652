"""One vocabulary for values (issue 13): the words a person or a spreadsheet uses for a status,
kind or tier (意向, 个人, A类) mean the same on every write path, and tags have one parser."""

from __future__ import annotations

import pytest

from crm_tui.store import ValidationError, validate


@pytest.mark.parametrize(("typed", "stored"), [
    ("意向", "intent"), ("有意向", "intent"), ("intent", "intent"), ("Intent", "intent"),
    ("线索", "lead"), ("已成交", "deal"), ("流失", "lost"), (None, "lead"), ("  ", "lead"),
])
def test_status_words(typed, stored):
    assert validate.status(typed) == stored


@pytest.mark.parametrize(("typed", "stored"), [
    ("个人", "person"), ("公司", "company"), ("Business", "company"), ("person", "person"),
    (None, "company"),
])
def test_kind_words(typed, stored):
    assert validate.kind(typed) == stored


@pytest.mark.parametrize(("typed", "stored"), [
    ("A类", "A"), ("b级", "B"), ("c", "C"), ("A", "A"), (None, None), ("", None),
])
def test_tier_words(typed, stored):
    assert validate.tier(typed) == stored


@pytest.mark.parametrize(("check", "typed", "field"), [
    (validate.status, "maybe", "status"), (validate.kind, "机器人", "kind"),
    (validate.tier, "D类", "tier"), (validate.tier, "AB", "tier"),
])
def test_unknown_words_are_refused_naming_the_field(check, typed, field):
    with pytest.raises(ValidationError) as refused:
        check(typed)
    assert refused.value.field == field and repr(typed) in str(refused.value)


@pytest.mark.parametrize(("typed", "tags"), [
    ("VIP, 华东；重点、VIP", ["VIP", "华东", "重点"]),
    ("a;b，c|d\ne", ["a", "b", "c", "d", "e"]),
    (" , ;", []),
    ("", []),
    (None, []),
    (["VIP,华东", "重点", "VIP"], ["VIP", "华东", "重点"]),
    ('["a, b", "c"]', ["a, b", "c"]),  # what crm export writes for a tag holding a comma
    ("[bold red]Boss[/bold red]", ["[bold red]Boss[/bold red]"]),  # not JSON: a tag as typed
    ("  ｖｉｐ  ", ["ｖｉｐ"]),
])
def test_parse_tags(typed, tags):
    assert validate.parse_tags(typed) == tags


def test_parse_tags_validates_each_tag():
    with pytest.raises(ValidationError) as too_long:
        validate.parse_tags("ok, " + "x" * 51)
    assert too_long.value.field == "tag"
    with pytest.raises(ValidationError):
        validate.parse_tags("bad\x1b[2Jtag")


def test_customer_and_contact_are_plain_functions_of_their_arguments():
    data = validate.customer({"name": " 张伟 ", "status": "意向", "kind": "个人", "tier": "A类",
                              "phone": "138 0013 8000"}, "CN")
    assert (data.name, data.status, data.kind, data.tier, data.phone) == (
        "张伟", "intent", "person", "A", "+8613800138000")
    contact = validate.contact({"name": "李娜", "phone": "13800138001"}, "CN")
    assert contact == {"name": "李娜", "title": None, "phone": "+8613800138001", "email": None,
                       "wechat": None, "is_primary": False}


def test_store_add_and_edit_understand_the_same_words(store, admin):
    added = store.add_customer(admin, {"name": "词汇甲", "status": "意向", "kind": "个人",
                                       "tier": "B级"}, tags=validate.parse_tags("VIP，华东"))
    assert (added.status, added.kind, added.tier, sorted(added.tags)) == (
        "intent", "person", "B", ["VIP", "华东"])
    edited = store.update_customer(admin, added.id, {"status": "成交", "kind": "公司",
                                                     "tier": "a类"})
    assert (edited.status, edited.kind, edited.tier) == ("deal", "company", "A")
    with pytest.raises(ValidationError):
        store.update_customer(admin, added.id, {"status": "maybe"})


@pytest.mark.parametrize("tags", [
    ["VIP", "华东"], ["a, b", "c"], ["甲、乙"], ['["a"]'], ["[x]", "y"], ["a|b", "c;d", "e；f"],
])
def test_exported_tags_parse_back_as_the_same_tags(tags):
    from crm_tui.store.files.exporting import tags_cell

    assert validate.parse_tags(tags_cell(tags)) == tags
