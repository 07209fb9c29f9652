"""The `crm` CLI contract (DESIGN §7): commands, --json, exit codes, one-sentence errors.

The acting identity is the OS account (root in CI) on SQLite and the database role
(postgres) on PostgreSQL, exactly as a user meets it.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_tui.cli.app import app
from crm_tui.store.schema.setup import initialise

runner = CliRunner()
CRM = str(Path(sys.executable).parent / "crm")


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL with nothing in it yet (``crm init`` is part of the test)."""
    if request.param == "sqlite":
        yield str(tmp_path / "cli.db")
        return
    from tests.conftest import fresh_pg_database

    template = request.getfixturevalue("pg_template")
    url, drop = fresh_pg_database(template)
    yield url
    drop()


def crm(url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--db", url, *args])
    return result.exit_code, result.stdout, result.stderr


def crm_json(url: str, *args: str) -> object:
    code, out, err = crm(url, *args, "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture
def url(blank_url: str) -> str:
    code, _, err = crm(blank_url, "init")
    assert code == 0, err
    return blank_url


def test_init_makes_caller_admin(blank_url):
    data = crm_json(blank_url, "init")
    assert data["admin_created"] in ("root", "postgres")
    reps = crm_json(blank_url, "reps", "list")
    assert [(r["login"], r["role"]) for r in reps] == [(data["admin_created"], "admin")]
    again = crm_json(blank_url, "init")
    assert again["admin_created"] is None


def test_add_prints_id_and_find_show_log_due(url):
    code, out, err = crm(url, "add", "张伟", "--phone", "138 0013 8000", "--company", "华为科技")
    assert code == 0, err
    customer_id = int(out.strip())
    found = crm_json(url, "find", "zw")
    assert [c["id"] for c in found] == [customer_id]
    assert found[0]["phone"] == "+8613800138000"
    shown = crm_json(url, "show", str(customer_id))
    assert shown["id"] == customer_id and shown["company"] == "华为科技"
    assert shown["ownership_history"][0]["kind"] == "created"
    code, out, _ = crm(url, "show", "张伟")
    assert code == 0 and "华为科技" in out
    logged = crm_json(url, "log", str(customer_id), "called, wants a quote", "--next", "2000-01-02",
                      "--at", "2000-01-01T10:00")
    assert logged["customer_id"] == customer_id
    assert logged["customer"]["next_follow_up_at"] == "2000-01-02"
    due = crm_json(url, "due")
    assert any(item["customer_id"] == customer_id and item["reason"] == "overdue" for item in due)


def test_add_json_returns_object_with_id(url):
    created = crm_json(url, "add", "Acme Ltd", "--email", "Info@Acme.com", "--pool")
    assert isinstance(created["id"], int)
    assert created["owner"] is None
    assert created["email"] != "info@acme.com"  # masked while in the open sea


def test_exit_codes(url):
    assert crm(url, "add", "Acme", "--phone", "13800138000")[0] == 0
    code, _, err = crm(url, "add", "Other", "--phone", "+86 138 0013 8000")
    assert code == 3 and "already exists" in err
    code, _, err = crm(url, "add", "Bad", "--email", "nope")
    assert code == 2 and "email" in err
    code, _, err = crm(url, "show", "999999")
    assert code == 4 and "999999" in err
    code, _, err = crm(url, "log", "999999", "hi")
    assert code == 4
    code, _, err = crm(url, "log", "Acme", "hi", "--next", "someday")
    assert code == 2 and "next" in err
    code, _, _ = crm(url, "find", "--pool", "--mine")
    assert code == 2
    code, _, _ = crm(url, "nosuchcommand")
    assert code == 2


def test_add_and_import_understand_the_same_words(url, tmp_path):
    """`crm add X --status 意向` and the same row imported give the same stored status (and kind,
    and tags: one vocabulary and one tag parser for every path, issue 13)."""
    added = crm_json(url, "add", "意向甲", "--status", "意向", "--kind", "个人",
                     "--tag", "VIP，华东", "--tag", "重点；VIP")
    path = tmp_path / "same.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle, dialect="excel").writerows([
            ["客户名称", "状态", "类型", "标签"],
            ["意向乙", "意向", "个人", "VIP，华东、重点；VIP"],
        ])
    report = crm_json(url, "import", str(path))
    assert (report["added"], report["rejected"]) == (1, 0), report["problems"]
    imported = crm_json(url, "show", "意向乙")
    assert added["status"] == imported["status"] == "intent"
    assert added["kind"] == imported["kind"] == "person"
    assert sorted(added["tags"]) == sorted(imported["tags"]) == ["VIP", "华东", "重点"]
    code, _, err = crm(url, "add", "意向丙", "--status", "也许")
    assert code == 2 and "status" in err


def test_ambiguous_name_is_a_usage_error(url):
    crm(url, "add", "Twin")
    crm(url, "add", "Twin", "--force")
    code, _, err = crm(url, "show", "Twin")
    assert code == 2 and "use the id" in err


def test_limit_and_empty_query_lists_everything(url):
    for index in range(5):
        crm(url, "add", f"Customer {index}")
    assert len(crm_json(url, "find")) == 5
    assert len(crm_json(url, "find", "", "--limit", "2")) == 2


def test_deal_add_and_stage(url):
    customer_id = crm_json(url, "add", "Deal Co")["id"]
    deal = crm_json(url, "deal", "add", str(customer_id), "Licences", "12,500.50", "--stage", "proposal")
    assert deal["amount"] == "12500.50" and deal["probability"] == "0.50"
    moved = crm_json(url, "deal", "stage", str(deal["id"]), "won")
    assert moved["stage"] == "won" and moved["closed_at"]
    code, _, err = crm(url, "deal", "add", str(customer_id), "Bad", "-5")
    assert code == 2 and "amount" in err


def test_reps_add_needs_admin_and_as_is_admin_only(url):
    assert crm(url, "reps", "add", "alice", "--name", "Alice", "--team", "east")[0] == 0
    code, _, err = crm(url, "--as", "alice", "reps", "add", "bob", "--name", "Bob")
    assert code == 3 and "admin" in err
    # A rep's own view through --as (allowed because the caller is admin).
    assert crm_json(url, "--as", "alice", "find") == []


def test_unknown_account_is_told_about_reps_add(tmp_path):
    path = str(tmp_path / "other.db")
    initialise(path, "somebody-else")
    code, _, err = crm(path, "find")
    assert code == 3 and "crm reps add" in err


def test_non_admin_may_not_use_as(tmp_path):
    path = str(tmp_path / "rep.db")
    initialise(path, "boss")
    from crm_tui.config import os_login
    from crm_tui.store import open_store

    store = open_store(path)
    store.add_rep(store.actor("boss"), os_login(), "Me", role="rep")
    store.close()
    code, _, err = crm(path, "--as", "boss", "find")
    assert code == 3 and "--as" in err


def test_identity_ignores_user_environment(tmp_path, monkeypatch):
    path = str(tmp_path / "env.db")
    initialise(path, "boss")
    for variable in ("USER", "LOGNAME", "CRM_USER"):
        monkeypatch.setenv(variable, "boss")
    code, _, err = crm(path, "find")
    assert code == 3 and "not a rep" in err


def test_missing_database_is_a_clear_error(tmp_path):
    code, _, err = crm(str(tmp_path / "new.db"), "find")
    assert code == 4 and "crm init" in err and "new.db" in err
    assert not (tmp_path / "new.db").exists()


def test_uninitialised_database_is_a_clear_error(tmp_path):
    (tmp_path / "empty.db").touch()
    code, _, err = crm(str(tmp_path / "empty.db"), "find")
    assert code == 1 and "crm init" in err


def test_db_status_and_upgrade(url):
    status = crm_json(url, "db", "status")
    assert status["up_to_date"] is True and status["pending"] == []
    assert crm_json(url, "db", "upgrade")["current"] == status["head"]


def test_real_process_errors_are_one_sentence_without_traceback(tmp_path):
    path = str(tmp_path / "real.db")
    subprocess.run([CRM, "--db", path, "init"], check=True, capture_output=True)
    result = subprocess.run([CRM, "--db", path, "show", "424242"], capture_output=True, text=True)
    assert result.returncode == 4
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    added = subprocess.run([CRM, "--db", path, "add", "[bold]Evil\x1b[2J", "--json"],
                           capture_output=True, text=True)
    assert added.returncode == 2 and "control character" in added.stderr


def test_real_process_markup_in_names_is_printed_literally(tmp_path):
    path = str(tmp_path / "markup.db")
    subprocess.run([CRM, "--db", path, "init"], check=True, capture_output=True)
    subprocess.run([CRM, "--db", path, "add", "[bold red]Shouty[/] Ltd"], check=True, capture_output=True)
    shown = subprocess.run([CRM, "--db", path, "show", "1"], capture_output=True, text=True, check=True)
    assert "[bold red]Shouty[/] Ltd" in shown.stdout
    found = subprocess.run([CRM, "--db", path, "find", "shouty"], capture_output=True, text=True, check=True)
    assert "[bold red]Shouty[/]" in found.stdout.replace("\n", "")


def test_database_from_environment(tmp_path, monkeypatch):
    path = str(tmp_path / "env-db.db")
    monkeypatch.setenv("CRM_DATABASE_URL", f"sqlite:///{path}")
    result = runner.invoke(app, ["init", "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["database"] == path


def test_demo_book_then_everyday_commands(blank_url):
    """Issue 2's walk-through: `crm init --demo N`, then find, show, add, log, due and reps."""
    assert crm_json(blank_url, "init", "--demo", "300")["demo_customers"] == 300
    everything = crm_json(blank_url, "find", "", "--limit", "1000")
    assert len(everything) == 300
    assert 60 <= sum(1 for c in everything if c["owner"] is None) <= 160  # about a third pooled
    chinese = next(c for c in everything if any("\u4e00" <= ch <= "\u9fff" for ch in c["name"]))
    assert chinese["id"] in [c["id"] for c in crm_json(blank_url, "find", chinese["name"])]
    portrait = crm_json(blank_url, "show", str(chinese["id"]))
    assert portrait["id"] == chinese["id"] and "ownership_history" in portrait
    mine = crm_json(blank_url, "find", "", "--mine", "--limit", "1000")
    assert mine, "the person running init owns a share of the demo book"
    logged = crm_json(blank_url, "log", str(mine[0]["id"]), "called back", "--next", "+2d")
    assert logged["customer"]["next_follow_up_at"]
    created = crm_json(blank_url, "add", "Brand New Customer Ltd", "--phone", "+1 415 555 0199")
    assert created["id"] > max(c["id"] for c in everything)
    assert isinstance(crm_json(blank_url, "due", "--days", "7"), list)
    reps = crm_json(blank_url, "reps", "list")
    assert len(reps) > 5 and any(r["role"] == "manager" for r in reps)
    assert crm(blank_url, "show", "999999")[0] == 4
