"""`crm export` (issue 7): only what the caller may see, formula-safe, and a lossless round trip."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_tui.cli.app import app
from crm_tui.store import Store
from crm_tui.store.files.exporting import neutralise
from crm_tui.store.schema.setup import initialise


def populate(store: Store, owner) -> None:
    acme = store.add_customer(
        owner, {"name": "Acme Ltd", "phone": "138 0013 8000", "email": "Info@Acme.com",
                "company": "Acme", "industry": "Steel", "region": "上海", "source": "展会",
                "kind": "company", "status": "intent", "tier": "A",
                "notes": 'line one, with "quotes"\nline two'},
        tags=["VIP", "华东"], extra={"微信": "acme_wx", "id": "legacy-17", "网站": "acme.com"},
    )
    store.add_contact(owner, acme.id, {"name": "周杰", "title": "采购", "phone": "13800138009",
                                       "email": "zj@acme.com", "is_primary": True})
    store.add_contact(owner, acme.id, {"name": "Ann, Lee", "wechat": "ann|lee"})
    store.add_customer(owner, {"name": "张伟", "kind": "person", "phone": "+86 139 0013 9000"},
                       tags=["a,b", "c"])
    store.add_customer(owner, {"name": "=HYPERLINK(\"http://evil\")", "notes": "@SUM(A1)",
                               "company": "-2+3", "source": "+cmd"})
    store.add_customer(owner, {"name": "😀 Emoji Shop", "address": "\t tab first"},
                       extra={"备注2": "x"})


def snapshot(store: Store, actor) -> list[tuple]:
    """The customers as comparable tuples: fields, tags, contacts, extra."""
    out = []
    for c in store.find(actor, "", scope="all", limit=1000):
        p = store.portrait(actor, c.id)
        contacts = sorted((k.name, k.title, k.phone, k.email, k.wechat, k.is_primary)
                          for k in p.contacts)
        out.append((c.name, c.kind, c.company, c.industry, c.region, c.address, c.phone, c.email,
                    c.source, c.status, c.tier, c.notes, tuple(sorted(c.tags)),
                    tuple(contacts), tuple(sorted(c.extra.items()))))
    return sorted(out)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_round_trip_into_an_empty_database(store, admin, tmp_path, fmt):
    populate(store, admin)
    path = tmp_path / f"all.{fmt}"
    result = store.export_customers(admin, path)
    assert (result.format, result.customers) == (fmt, 4)
    empty_url = str(tmp_path / "empty.db")
    initialise(empty_url, "boss", "The Boss")
    target = Store(empty_url)
    try:
        report = target.import_file(target.actor("boss"), path)
        assert (report.read, report.added, report.rejected) == (4, 4, 0), report.problems
        assert set(report.ignored_columns) == {"id", "owner", "locked", "last_follow_up_at",
                                               "next_follow_up_at", "created_at", "updated_at"}
        assert snapshot(target, target.actor("boss")) == snapshot(store, admin)
        again = target.import_file(target.actor("boss"), path)
        assert again.skipped == 4 and target.customer_count() == 4
    finally:
        target.close()


def test_csv_is_utf8_bom_excel_dialect_and_formula_safe(store, admin, tmp_path):
    populate(store, admin)
    path = tmp_path / "out.csv"
    store.export_customers(admin, path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    by_name = {r["name"].lstrip("'"): r for r in rows}
    evil = by_name['=HYPERLINK("http://evil")']
    assert evil["name"] == "'=HYPERLINK(\"http://evil\")"
    assert (evil["notes"], evil["company"], evil["source"]) == ("'@SUM(A1)", "'-2+3", "'+cmd")
    assert by_name["Acme Ltd"]["phone"] == "'+8613800138000"
    assert by_name["😀 Emoji Shop"]["address"] == "tab first"
    for row in rows:
        for cell in row.values():
            assert not (cell or "").startswith(("=", "+", "-", "@"))
    acme = by_name["Acme Ltd"]
    assert acme["extra.id"] == "legacy-17" and acme["微信"] == "acme_wx"
    assert json.loads(acme["contacts"])[0] == {"name": "周杰", "title": "采购",
                                               "phone": "+8613800138009", "email": "zj@acme.com",
                                               "is_primary": True}
    assert json.loads(by_name["张伟"]["tags"]) == ["a,b", "c"]
    assert acme["tags"] == "VIP, 华东"
    assert neutralise("plain") == "plain" and neutralise("-1") == "'-1"


def test_xlsx_cells_are_text_never_formulas(store, admin, tmp_path):
    from openpyxl import load_workbook

    populate(store, admin)
    path = tmp_path / "out.xlsx"
    store.export_customers(admin, path)
    sheet = load_workbook(path).active
    header = [c.value for c in sheet[1]]
    name_col = header.index("name")
    cells = [row[name_col] for row in sheet.iter_rows(min_row=2)]
    evil = next(c for c in cells if "HYPERLINK" in str(c.value))
    assert evil.data_type == "s" and evil.value == '=HYPERLINK("http://evil")'


def test_export_shows_only_what_the_caller_may_see(store, make_rep, tmp_path):
    alice, bob = make_rep("alice"), make_rep("bob")
    store.add_customer(alice, {"name": "Alice Own", "phone": "13800138010"})
    store.add_customer(bob, {"name": "Bob Secret", "phone": "13800138011"})
    pooled = store.add_customer(bob, {"name": "In The Pool", "phone": "13800138012",
                                      "email": "pool@example.com"}, pool=True)
    store.add_contact(store.actor("boss"), pooled.id, {"name": "Pat", "phone": "13800138013"})
    out = io.StringIO()
    store.export_customers(alice, None, fmt="json", stream=out)
    data = json.loads(out.getvalue())
    assert sorted(c["name"] for c in data) == ["Alice Own", "In The Pool"]
    pool = next(c for c in data if c["name"] == "In The Pool")
    assert pool["masked"] and "8001381" not in json.dumps(pool) and "pool@" not in pool["email"]
    assert pool["contacts"] == [{"name": "Pat", "title": None, "phone": None, "email": None,
                                 "wechat": None, "is_primary": False}]
    mine = io.StringIO()
    store.export_customers(alice, None, fmt="csv", scope="mine", stream=mine)
    assert [r["name"] for r in csv.DictReader(io.StringIO(mine.getvalue()))] == ["Alice Own"]
    admin_out = io.StringIO()
    store.export_customers(store.actor("boss"), None, fmt="json", scope="all", stream=admin_out)
    assert len(json.loads(admin_out.getvalue())) == 3


def test_export_streams_in_pages(store, admin, tmp_path):
    for i in range(7):
        store.add_customer(admin, {"name": f"Paged {i}"}, extra={f"k{i % 2}": str(i)})
    seen = []
    result = store.export_customers(admin, tmp_path / "p.csv", page_size=3,
                                    progress=lambda done, total: seen.append((done, total)))
    assert result.customers == 7 and seen[-1] == (7, 7)
    assert result.columns[-2:] == ["k0", "k1"]
    assert len(list(csv.reader((tmp_path / "p.csv").open(encoding="utf-8-sig")))) == 8


# --- CLI (SQLite; the acting identity is the OS account) -------------------------------------

runner = CliRunner()


@pytest.fixture
def cli_db(tmp_path: Path) -> str:
    from crm_tui.config import os_login

    url = str(tmp_path / "cli.db")
    initialise(url, os_login())
    store = Store(url)
    try:
        populate(store, store.actor(os_login()))
    finally:
        store.close()
    return url


def crm(url: str, *args: str):
    result = runner.invoke(app, ["--db", url, *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_export_formats_and_errors(cli_db, tmp_path):
    code, out, err = crm(cli_db, "export")
    assert code == 0, err
    assert not out.startswith("\ufeff") and out.splitlines()[0].startswith("id,name,kind")
    code, out, err = crm(cli_db, "export", "--format", "json", "--mine")
    assert code == 0, err
    assert len(json.loads(out)) == 4
    code, out, err = crm(cli_db, "export", str(tmp_path / "x.xlsx"), "--json")
    assert code == 0, err
    assert json.loads(out)["format"] == "xlsx" and json.loads(out)["customers"] == 4
    assert (tmp_path / "x.xlsx").exists()
    code, _, err = crm(cli_db, "export", "--format", "xlsx")
    assert code == 2 and "FILE" in err
    code, _, err = crm(cli_db, "export", str(tmp_path / "x.pdf"))
    assert code == 2
    code, _, err = crm(cli_db, "export", str(tmp_path / "nowhere" / "x.csv"))
    assert code == 2
    code, _, err = crm(cli_db, "export", "--pool", "--mine")
    assert code == 2
    code, out, err = crm(cli_db, "export", str(tmp_path / "back.csv"))
    assert code == 0 and "Exported 4 customers" in out
    code, out, err = crm(cli_db, "import", str(tmp_path / "back.csv"), "--json")
    assert code == 0 and json.loads(out)["skipped"] == 4
