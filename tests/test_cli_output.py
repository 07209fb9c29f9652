"""Issue 15 items 9-11: what the CLI prints into a pipe, its usage errors, its plurals.

- Not a terminal (a pipe, a file, CliRunner): ``crm pool``, ``due``, ``rules``, ``reps list``,
  ``recycle`` and ``stats`` print plain columns, one row a line, as ``crm find`` does; a
  terminal still gets the boxed table.
- ``crm rules --set`` prints what changed, not the whole table.
- A usage error is one sentence on stderr with exit 2, not Typer's usage block and box.
- "1 follow-up", "in 1 day", and no second full stop after a name that ends with one.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from crm_tui.cli import output
from crm_tui.cli.app import app
from crm_tui.present.format import count, due_phrase, sentence

runner = CliRunner()
CRM = str(Path(sys.executable).parent / "crm")
BOX = set("│┃┏┓┗┛━─┡┩╇┼")


def crm(url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--db", url, *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def url(tmp_path: Path) -> str:
    path = str(tmp_path / "out.db")
    code, _, err = crm(path, "init")
    assert code == 0, err
    for name in ("Initech Capital Inc.", "重庆万象信息技术股份有限公司", "Globex"):
        code, _, err = crm(path, "add", name, "--pool", "--industry", "Finance and insurance",
                           "--region", "华东 East China")
        assert code == 0, err
    return path


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def assert_plain_rows(text: str, rows: int) -> None:
    """A header line and one line per row, no box drawing."""
    assert not BOX & set(text), text
    assert len(lines(text)) == rows + 1, text


def test_pool_piped_is_one_row_a_line(url):
    code, out, _ = crm(url, "pool")
    assert code == 0
    assert_plain_rows(out, 3)
    assert lines(out)[0].split()[:3] == ["id", "name", "company"]
    row = next(line for line in lines(out) if "重庆万象" in line)
    assert "Finance and insurance" in row and "华东 East China" in row


def test_due_and_reps_list_piped(url):
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    assert crm(url, "claim", "Globex")[0] == 0
    assert crm(url, "log", "Globex", "called", "--next", tomorrow)[0] == 0
    code, out, _ = crm(url, "due", "--days", "2")
    assert code == 0
    assert_plain_rows(out, 1)
    assert "in 1 day" in out and "in 1 days" not in out
    code, out, _ = crm(url, "reps", "list")
    assert code == 0
    assert_plain_rows(out, 1)


def test_rules_piped_and_set_prints_what_changed(url):
    from crm_tui.store.team.settings import RULES

    code, out, _ = crm(url, "rules")
    assert code == 0
    assert not BOX & set(out)
    # The header, a line per rule, the line saying how to change them.
    assert len(lines(out)) == len(RULES) + 2
    code, out, err = crm(url, "rules", "--set", "recycle_after_days=45", "--set",
                         "private_cap=200")
    assert code == 0, err
    assert lines(out) == ["Changed recycle_after_days: 30 → 45.", "Unchanged private_cap: 200."]


def test_stats_and_recycle_piped(url):
    code, out, _ = crm(url, "stats")
    assert code == 0 and not BOX & set(out)
    assert "Open sea: 3 customers" in out
    code, out, _ = crm(url, "recycle", "--dry-run")
    assert code == 0 and not BOX & set(out)


def test_a_terminal_still_gets_the_boxed_table(url, monkeypatch):
    monkeypatch.setattr(output, "to_terminal", lambda: True)
    code, out, _ = crm(url, "pool")
    assert code == 0 and BOX & set(out)
    assert "重庆万象" in out


def test_claim_message_has_one_full_stop_after_a_name_with_one(url):
    code, out, _ = crm(url, "claim", "Initech Capital Inc.")
    assert code == 0
    assert out.strip().endswith("Initech Capital Inc.") and ".." not in out
    code, out, _ = crm(url, "release", "Initech Capital Inc.", "--reason", "no budget")
    assert code == 0 and ".." not in out


@pytest.mark.parametrize("args", [
    ["find", "--bogus"],
    ["find", "--limit", "x", "q"],
    ["nosuchcommand"],
    ["reps", "add"],
    ["find", "--pool", "--mine", "q"],
])
def test_usage_errors_are_one_sentence_and_exit_2(tmp_path, args):
    """The real ``crm`` (its console script, main()): one line on stderr, nothing on stdout."""
    db = tmp_path / "usage.db"
    done = subprocess.run([CRM, "--db", str(db), *args], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith("crm: ") and done.stderr.strip().endswith(".")
    assert "Usage:" not in done.stderr and "Try '" not in done.stderr


def test_a_group_without_its_command_still_shows_its_help():
    done = subprocess.run([CRM, "reps"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "list" in done.stderr and "deactivate" in done.stderr


@pytest.mark.parametrize(("days", "reason", "text"), [
    (-1, "due", "in 1 day"), (-2, "due", "in 2 days"), (1, "overdue", "1 day overdue"),
    (3, "overdue", "3 days overdue"), (1, "recycle", "recycled in 1 day"),
    (0, "due", "due today"),
])
def test_due_phrases_count_in_the_singular_and_plural(days, reason, text):
    assert due_phrase(SimpleNamespace(days=days, reason=reason)) == text


def test_counts_and_sentences():
    assert count(1, "{n} follow-up", "{n} follow-ups") == "1 follow-up"
    assert count(0, "{n} follow-up", "{n} follow-ups") == "0 follow-ups"
    assert sentence("Claimed customer 5, Initech Capital Inc.") == (
        "Claimed customer 5, Initech Capital Inc.")
    assert sentence("Claimed customer 6, Globex") == "Claimed customer 6, Globex."
    assert sentence("Released 重庆火锅。") == "Released 重庆火锅。"
