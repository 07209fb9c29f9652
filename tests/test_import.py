"""`crm import` (issue 7): files made the way real tools make them, every row accounted for.

CSV files are written with the csv module's Excel dialect (CRLF, quoted commas, doubled quotes,
newlines in cells) in the encodings Excel uses (UTF-8 with BOM; GBK as on a Chinese Windows;
UTF-16 tab-separated "Unicode text"); XLSX files with openpyxl. Store-level tests run on SQLite
and PostgreSQL; CLI tests on SQLite (the acting identity there is the OS account).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_tui.cli.app import app
from crm_tui.store import UsageError
from crm_tui.store.files.importing import ImportStopped, core_key, plan_columns
from crm_tui.store.schema.setup import initialise

HEADER = ["客户名称", "手机", "邮箱", "公司", "城市", "来源", "备注", "微信号"]


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8-sig",
              delimiter: str = ",") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, dialect="excel", delimiter=delimiter)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "客户"
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def balanced(report) -> None:
    assert report.read == report.added + report.merged + report.skipped + report.rejected
    assert report.balanced


def outcome(report) -> dict[int, str]:
    """Row number -> "skipped: reason" / "rejected: reason" for every row not added."""
    return {p["row"]: f"{p['status']}: {p['reason']}" for p in report.problems}


def read_rejected(report) -> list[dict[str, str]]:
    with open(report.rejected_file, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


# --- the real-world CSV ----------------------------------------------------------------------


def messy_rows() -> list[list[str]]:
    return [
        HEADER,
        ["张伟", "138 0013 8000", "Zhang.Wei@Example.COM", "华为技术有限公司", "深圳", "展会",
         'says "call after 3pm", prefers WeChat\nsecond line', "zhangwei88"],         # 2 ok
        ["李娜", "13900139000", "not-an-email", "", "", "", "", ""],                   # 3 bad email
        ["王芳", "12345", "", "", "", "", "", ""],                                     # 4 bad phone
        ["X" * 300, "", "", "", "", "", "", ""],                                     # 5 too long
        ["Bell\x07Co", "", "", "", "", "", "", ""],                                   # 6 control char
        ["😀 Emoji Shop 🚀", "", "hello@emoji.shop", "", "", "", "", ""],                # 7 ok
        [],                                                                          # blank
        ["Short Row Ltd", "13700137000"],                                             # 9 ragged, ok
        ["Too, Many", "13600136000", "", "", "", "", "", "", "spill"],               # 10 too many
        ["Trailing Comma Co", "13500135000", "", "", "", "", "", "", ""],             # 11 ok
        ["张伟 (again)", "+86 13800138000", "", "", "", "", "", ""],                   # 12 dup phone
        ["Someone", "", "ZHANG.WEI@example.com", "", "", "", "", ""],                 # 13 dup email
        ["", "13400134000", "", "", "", "", "", ""],                                   # 14 no name
        ["=HYPERLINK(\"x\")", "", "", "", "", "", "", ""],                             # 15 ok (text)
    ]


def test_excel_csv_utf8_bom_every_row_accounted(store, admin, tmp_path):
    path = write_csv(tmp_path / "leads.csv", messy_rows())
    report = store.import_file(admin, path)
    balanced(report)
    assert (report.read, report.blank) == (13, 1)
    assert report.encoding == "utf-8-sig"
    assert (report.added, report.skipped, report.rejected) == (5, 2, 6)
    got = outcome(report)
    assert got[3].startswith("rejected: email:")
    assert got[4].startswith("rejected: phone:")
    assert got[5] == "rejected: name: is 300 characters long; the limit is 200"
    assert got[6].startswith("rejected: name: contains the control character U+0007")
    assert got[10].startswith("rejected: the row has 9 cells but the header has 8")
    assert got[12] == "skipped: duplicate of row 2 of this file (same phone)"
    assert got[13] == "skipped: duplicate of row 2 of this file (same email)"
    assert got[14] == "rejected: name: is required"
    zhang = store.find(admin, "张伟")[0]
    assert zhang.phone == "+8613800138000" and zhang.email == "zhang.wei@example.com"
    assert zhang.notes == 'says "call after 3pm", prefers WeChat\nsecond line'
    assert zhang.extra == {"微信号": "zhangwei88"} and zhang.region == "深圳"
    assert store.find(admin, "Emoji")[0].name == "😀 Emoji Shop 🚀"
    assert store.customer_count() == 5
    rejected = read_rejected(report)
    assert [int(r["rejected_row"]) for r in rejected] == [3, 4, 5, 6, 10, 12, 13, 14]
    assert rejected[0]["邮箱"] == "not-an-email" and "email" in rejected[0]["rejected_reason"]


def test_rejected_file_fixed_and_reimported(store, admin, tmp_path):
    path = write_csv(tmp_path / "leads.csv", messy_rows())
    first = store.import_file(admin, path)
    fixed = tmp_path / "fixed.csv"
    rows = read_rejected(first)
    for row in rows:
        row.pop(None, None)  # the spilled cell of the row with too many cells
        if row["客户名称"] == "李娜":
            row["邮箱"] = "lina@example.com"
    with fixed.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), dialect="excel")
        writer.writeheader()
        writer.writerows(rows)
    again = store.import_file(admin, fixed)
    balanced(again)
    assert set(again.ignored_columns) == {"rejected_row", "rejected_reason"}
    assert again.added == 2  # 李娜 fixed; the shifted row once its spilled cell is gone
    lina = store.find(admin, "李娜")[0]
    assert lina.email == "lina@example.com" and lina.extra == {}


def test_rerun_creates_no_doubles(store, admin, tmp_path):
    path = write_csv(tmp_path / "leads.csv", messy_rows())
    first = store.import_file(admin, path)
    count = store.customer_count()
    for mode in ("skip", "merge"):
        again = store.import_file(admin, path, on_duplicate=mode)
        balanced(again)
        assert again.added == 0 and again.merged == 0
        assert again.skipped == first.added + first.skipped
        assert store.customer_count() == count


def test_gbk_csv_as_excel_saves_it_in_china(store, admin, tmp_path):
    rows = [HEADER, ["深圳市腾讯计算机系统有限公司", "0755-86013388", "", "腾讯", "深圳", "转介绍",
                     "重点客户，下周拜访", "tx"],
            ["北京字节跳动科技有限公司", "13800138001", "bd@bytedance.com", "", "北京", "", "", ""]]
    path = write_csv(tmp_path / "客户.csv", rows, encoding="gbk")
    report = store.import_file(admin, path)
    balanced(report)
    assert report.encoding in ("gb18030", "gbk")
    assert report.added == 2
    tencent = store.find(admin, "腾讯")[0]
    assert tencent.phone == "+867558601338"[:0] + tencent.phone  # stored, E.164
    assert tencent.phone.startswith("+86755")
    assert tencent.notes == "重点客户，下周拜访" and tencent.source == "转介绍"
    assert report.columns["手机"] == "phone" and report.columns["微信号"] == "extra.微信号"


def test_utf16_tab_separated_unicode_text(store, admin, tmp_path):
    rows = [["Name", "Mobile", "E-mail", "Industry"],
            ["Acme Ltd", "+1 650 253 0000", "sales@acme.com", "Manufacturing"],
            ["陈静", "13800138002", "", "教育"]]
    path = write_csv(tmp_path / "unicode.txt", rows, encoding="utf-16", delimiter="\t")
    report = store.import_file(admin, path)
    balanced(report)
    assert report.delimiter == "\t" and report.added == 2
    assert store.find(admin, "Acme")[0].phone == "+16502530000"


def test_undetectable_encoding_is_a_usage_error(store, admin, tmp_path):
    path = tmp_path / "binary.csv"
    path.write_bytes(b"name\n" + bytes(range(128, 256)) * 40)  # no text encoding reads this
    with pytest.raises(UsageError):
        store.import_file(admin, path)
    assert store.customer_count() == 0


def test_xlsx_from_openpyxl_with_title_row_numbers_and_blanks(store, admin, tmp_path):
    import datetime

    rows: list[list[object]] = [
        ["2026年6月 客户名单"],                                       # a title above the header
        ["姓名", "电话", "邮箱", "类型", "状态", "等级", "标签", "签约日期"],
        ["刘洋", 13800138003, "liu@example.com", "个人", "意向", "A类", "VIP, 华东", datetime.date(2026, 5, 1)],
        [None, None, None, None, None, None, None, None],
        ["Bad Status Co", 13800138004, None, None, "hot", None, None, None],
        ["刘洋", "138-0013-8003", None, None, None, None, None, None],
    ]
    path = write_xlsx(tmp_path / "客户.xlsx", rows)
    report = store.import_file(admin, path)
    balanced(report)
    assert (report.preamble, report.header_row, report.blank) == (1, 2, 1)
    assert (report.read, report.added, report.rejected, report.skipped) == (3, 1, 1, 1)
    liu = store.find(admin, "刘洋")[0]
    assert (liu.phone, liu.kind, liu.status, liu.tier) == ("+8613800138003", "person", "intent", "A")
    assert liu.tags == ["VIP", "华东"] and liu.extra == {"签约日期": "2026-05-01"}
    assert outcome(report)[5].startswith("rejected: status:")
    assert read_rejected(report)[0]["rejected_row"] == "5"


def test_duplicate_owned_by_another_rep_is_never_merged_or_created(store, make_rep, tmp_path):
    alice, bob = make_rep("alice"), make_rep("bob")
    store.add_customer(alice, {"name": "Acme Ltd", "phone": "13800138005"})
    path = write_csv(tmp_path / "b.csv", [["name", "phone", "notes"],
                                          ["ACME Limited", "138 0013 8005", "from bob"]])
    for mode in ("skip", "merge", "create"):
        report = store.import_file(bob, path, on_duplicate=mode)
        balanced(report)
        assert report.skipped == 1 and report.added == report.merged == 0
        reason = report.problems[0]["reason"]
        assert reason == "already exists (same phone), owned by Alice (alice)"
        assert "Acme" not in reason
    assert store.get_customer(1, alice).notes is None
    assert store.customer_count() == 1


def test_admin_may_merge_into_any_reps_customer(store, admin, make_rep, tmp_path):
    alice = make_rep("alice")
    store.add_customer(alice, {"name": "Acme Ltd", "phone": "13800138005"})
    path = write_csv(tmp_path / "a.csv", [["name", "phone", "industry"],
                                          ["Acme Ltd", "13800138005", "Steel"]])
    report = store.import_file(admin, path, on_duplicate="merge")
    assert report.merged == 1
    assert store.get_customer(1, alice).industry == "Steel"


def test_merge_fills_empty_fields_and_never_overwrites(store, make_rep, tmp_path):
    alice = make_rep("alice")
    created = store.add_customer(alice, {"name": "华为技术有限公司", "company": "华为", "region": "深圳"},
                                 tags=["老客户"], extra={"信用等级": "金牌"})
    path = write_csv(tmp_path / "m.csv", [
        ["客户名称", "手机", "城市", "行业", "标签", "联系人", "信用等级", "网站"],
        ["华为技术公司", "13800138006", "东莞", "通信", "重点", "任正非|总裁|13800138007",
         "银牌", "huawei.com"],
    ])
    report = store.import_file(alice, path, on_duplicate="merge")
    balanced(report)
    assert report.merged == 1 and report.conflicts == 2
    merged = store.portrait(alice, created.id)
    c = merged.customer
    assert (c.phone, c.region, c.industry) == ("+8613800138006", "深圳", "通信")
    assert sorted(c.tags) == sorted(["重点", "老客户"])
    assert c.extra == {"信用等级": "金牌", "网站": "huawei.com"}
    assert [(p.name, p.title, p.phone) for p in merged.contacts] == [("任正非", "总裁", "+8613800138007")]
    kept = {e["field"]: (e["kept"], e["file"]) for e in report.conflict_examples}
    assert kept == {"region": ("深圳", "东莞"), "extra.信用等级": ("金牌", "银牌")}
    assert store.find(alice, "13800138006")[0].id == created.id  # search text follows the merge
    again = store.import_file(alice, path, on_duplicate="merge")
    assert again.merged == 0 and again.skipped == 1


def test_merge_within_the_file(store, admin, tmp_path):
    path = write_csv(tmp_path / "m.csv", [
        ["name", "phone", "email", "industry"],
        ["Globex", "13800138008", "", ""],
        ["Globex Inc", "", "info@globex.com", "Energy"],
        ["GLOBEX", "13800138008", "", "Mining"],
    ])
    report = store.import_file(admin, path, on_duplicate="merge")
    balanced(report)
    assert (report.added, report.merged, report.skipped) == (1, 1, 1)
    globex = store.find(admin, "Globex")
    assert len(globex) == 1
    assert (globex[0].email, globex[0].industry) == ("info@globex.com", "Energy")
    assert report.conflicts == 1


def test_create_adds_look_alikes_of_own_and_pool(store, make_rep, tmp_path):
    alice = make_rep("alice")
    store.add_customer(alice, {"name": "Initech"})
    store.add_customer(alice, {"name": "Hooli"}, pool=True)
    path = write_csv(tmp_path / "c.csv", [["name"], ["Initech"], ["Hooli"]])
    report = store.import_file(alice, path, on_duplicate="create")
    assert report.added == 2
    assert store.customer_count() == 4


def test_legal_forms_match_and_near_names_alone_do_not(store, admin, tmp_path):
    # A company is its own company, whatever its legal form (issue 14 item 7); a near name at
    # the same company is no duplicate without the same phone (test_duplicates.py has more).
    store.add_customer(admin, {"name": "北京字节跳动科技有限公司"})
    store.add_customer(admin, {"name": "John Smith", "company": "Acme"})
    path = write_csv(tmp_path / "f.csv", [
        ["name", "company"],
        ["北京字节跳动科技公司", ""],
        ["Jon Smith", "Acme"],
        ["Jane Doe", "Acme"],
        ["Smith John", "Initech"],
    ])
    report = store.import_file(admin, path)
    got = outcome(report)
    assert "(same name and company)" in got[2]
    assert set(got) == {2}
    assert report.added == 3
    assert core_key("Acme Co., Ltd.") == core_key("ACME") == "acme"
    assert core_key("华为技术有限公司") == core_key("华为技术") == "华为技术"


def test_dry_run_writes_nothing(store, admin, tmp_path):
    path = write_csv(tmp_path / "leads.csv", messy_rows())
    report = store.import_file(admin, path, dry_run=True)
    balanced(report)
    assert report.added == 5 and report.rejected == 6
    assert store.customer_count() == 0
    assert report.rejected_file is None and not (tmp_path / "leads.rejected.csv").exists()


def test_pool_and_private_cap(store, make_rep, tmp_path):
    alice = make_rep("alice")
    store.set_rules(store.actor("boss"), {"private_cap": 3})
    store.add_customer(alice, {"name": "Owned already"})
    rows = [["name"]] + [[f"Lead {i}"] for i in range(5)]
    path = write_csv(tmp_path / "cap.csv", rows)
    dry = store.import_file(alice, path, dry_run=True)
    report = store.import_file(alice, path)
    for r in (dry, report):
        balanced(r)
        assert (r.added, r.rejected) == (2, 3)
        assert r.reasons["private_cap"] == 3
    rejected = tmp_path / "cap.rejected.csv"
    pooled = store.import_file(alice, rejected, pool=True)
    assert pooled.added == 3
    assert all(c.owner is None for c in store.find(alice, "Lead", scope="pool"))


def test_map_overrides_and_bad_maps(store, admin, tmp_path):
    path = write_csv(tmp_path / "m.csv", [["Kunde", "Telefon", "Notiz", "Quelle"],
                                          ["Müller GmbH", "+49 30 901820", "wichtig", "Messe"]])
    with pytest.raises(UsageError, match="No column holds the customer name"):
        store.import_file(admin, path)
    with pytest.raises(UsageError, match="does not have"):
        store.import_file(admin, path, mapping=["Customer=name"])
    with pytest.raises(UsageError, match="not a field"):
        store.import_file(admin, path, mapping=["Kunde=nom"])
    with pytest.raises(UsageError, match="COLUMN=FIELD"):
        store.import_file(admin, path, mapping=["Kunde"])
    report = store.import_file(admin, path, mapping=["Kunde=name", "Telefon=phone",
                                                     "Notiz=notes", "Quelle=ignore"])
    assert report.added == 1 and report.ignored_columns == ["Quelle"]
    muller = store.find(admin, "Müller")[0]
    assert (muller.phone, muller.notes, muller.extra) == ("+4930901820", "wichtig", {})


def test_company_column_stands_in_for_a_missing_name():
    columns = plan_columns(["公司", "电话", "电话"])
    assert [(c.target, c.key) for c in columns] == [("name", None), ("phone", None),
                                                   ("extra", "电话")]


def test_a_failed_batch_is_undone_whole_and_a_rerun_completes(store, admin, tmp_path, monkeypatch):
    rows = [["name", "phone"]] + [[f"Batch Co {i}", f"1380013{8100 + i:04d}"] for i in range(10)]
    path = write_csv(tmp_path / "b.csv", rows)
    from crm_tui.store.files.importing.writer import Writer
    calls = {"n": 0}
    original = Writer.write_merges

    def flaky(self, conn, merges):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return original(self, conn, merges)

    monkeypatch.setattr(Writer, "write_merges", flaky)
    with pytest.raises(ImportStopped) as stopped:
        store.import_file(admin, path, batch_size=4)
    assert stopped.value.report.added == 4 and stopped.value.report.read == 4
    assert store.customer_count() == 4
    monkeypatch.setattr(Writer, "write_merges", original)
    rerun = store.import_file(admin, path, batch_size=4)
    assert (rerun.added, rerun.skipped) == (6, 4)
    assert store.customer_count() == 10


def test_contacts_cell_forms(store, admin, tmp_path):
    contacts = json.dumps([{"name": "周杰", "title": "采购", "phone": "13800138009", "is_primary": True}],
                          ensure_ascii=False)
    path = write_csv(tmp_path / "c.csv", [
        ["name", "contacts"],
        ["JSON Co", contacts],
        ["Pipe Co", "Ann Lee|ann@pipe.co|+1 650 253 0001; Bob|Buyer"],
        ["Bad Contact Co", "Eve|12345"],
    ])
    report = store.import_file(admin, path)
    assert (report.added, report.rejected) == (2, 1)
    assert outcome(report)[4].startswith("rejected: contact phone:")
    json_co = store.portrait(admin, store.find(admin, "JSON Co")[0].id)
    assert [(c.name, c.title, c.phone, c.is_primary) for c in json_co.contacts] == [
        ("周杰", "采购", "+8613800138009", True)]
    pipe = store.portrait(admin, store.find(admin, "Pipe Co")[0].id)
    assert {(c.name, c.email, c.phone, c.title) for c in pipe.contacts} == {
        ("Ann Lee", "ann@pipe.co", "+16502530001", None), ("Bob", None, None, "Buyer")}
    assert store.find(admin, "ann")[0].name == "Pipe Co"  # contacts are searchable


# --- CLI (SQLite; the acting identity is the OS account) -------------------------------------

runner = CliRunner()


@pytest.fixture
def cli_db(tmp_path: Path) -> str:
    from crm_tui.config import os_login

    url = str(tmp_path / "cli.db")
    initialise(url, os_login())
    return url


def crm(url: str, *args: str):
    result = runner.invoke(app, ["--db", url, *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_import_report_and_exit_codes(cli_db, tmp_path):
    path = write_csv(tmp_path / "leads.csv", messy_rows())
    code, out, err = crm(cli_db, "import", str(path), "--dry-run", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["dry_run"] and data["read"] == data["added"] + data["merged"] + data["skipped"] + data["rejected"]
    code, out, err = crm(cli_db, "import", str(path))
    assert code == 0, err
    assert "rows read" in out and "leads.rejected.csv" in out
    code, out, _ = crm(cli_db, "import", str(path), "--json")
    assert json.loads(out)["added"] == 0
    code, _, err = crm(cli_db, "import", str(tmp_path / "missing.csv"))
    assert code == 4 and "no file" in err
    code, _, err = crm(cli_db, "import", str(path), "--map", "nope=name")
    assert code == 2 and err.startswith("crm: ")
    code, _, err = crm(cli_db, "import", str(path), "--on-duplicate", "replace")
    assert code == 2
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    code, _, err = crm(cli_db, "import", str(tmp_path / "old.xls"))
    assert code == 2 and ".xlsx" in err
    (tmp_path / "empty.csv").write_bytes(b"")
    code, _, err = crm(cli_db, "import", str(tmp_path / "empty.csv"))
    assert code == 2


# --- the TUI import screen (self-contained: a bare host app pushes it) -----------------------


def test_import_screen_previews_runs_and_reports(store, admin, tmp_path):
    import asyncio

    from textual.app import App
    from textual.widgets import DataTable, Static

    from crm_tui.tui.screens.import_screen import ImportScreen
    from tests.tui_data import settle

    if store.backend != "sqlite":
        pytest.skip("the screen only drives the store; one backend is enough")
    path = write_csv(tmp_path / "leads.csv", messy_rows())

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(ImportScreen(store, admin, str(path)))

    async def scenario() -> None:
        app = Host()
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            screen = app.screen
            table = screen.query_one("#import-mapping", DataTable)
            assert table.row_count == len(HEADER)
            assert str(table.get_row_at(0)[1]) == "name"
            await pilot.click("#import-run")
            await settle(pilot)
            report = str(screen.query_one("#import-report", Static).render())
            assert "added 5" in report and "rejected 6" in report, report

    asyncio.run(scenario())
    assert store.customer_count() == 5


def test_search_index_follows_imports_and_later_adds(store, admin, tmp_path):
    path = write_csv(tmp_path / "s.csv", [["name", "phone"], ["欧阳娜娜", "13800138020"],
                                          ["Zebra Trading", "13800138021"]])
    store.import_file(admin, path)
    assert [c.name for c in store.find(admin, "oyn")] == ["欧阳娜娜"]
    assert [c.name for c in store.find(admin, "8021")] == ["Zebra Trading"]
    store.add_customer(admin, {"name": "Later Added Co"})
    assert [c.name for c in store.find(admin, "later")] == ["Later Added Co"]


def test_parallel_preparation_gives_the_same_outcome(store, admin, tmp_path):
    """Batches prepared in worker processes: same counts, same rows, history written."""
    path = write_csv(tmp_path / "leads.csv", messy_rows())
    serial = store.import_file(admin, path, dry_run=True, batch_size=3, parallel=False)
    report = store.import_file(admin, path, batch_size=3, parallel=True)
    balanced(report)
    assert (report.added, report.skipped, report.rejected) == (serial.added, serial.skipped,
                                                               serial.rejected) == (5, 2, 6)
    assert {p["row"]: p["status"] for p in report.problems} == {
        p["row"]: p["status"] for p in serial.problems}
    # Written batch by batch, row 2 is a customer by the time rows 12 and 13 are looked at.
    assert outcome(report)[12] == "skipped: duplicate of customer 1 (same phone), owned by you"
    zhang = store.portrait(admin, store.find(admin, "张伟")[0].id)
    assert [(o.kind, o.to_rep, o.reason) for o in zhang.ownership] == [
        ("created", "boss", "imported from leads.csv")]
    assert zhang.customer.created_at == store.clock.now()
