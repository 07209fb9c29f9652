"""A mistyped ``--db`` (issue: it left a directory and an empty database behind).

Only ``crm init`` creates a SQLite database; every other command names the missing file, exits 4
and leaves the disk as it was. Run through the real ``crm`` console script, as a user meets it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CRM = str(Path(sys.executable).parent / "crm")


def run_crm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CRM, *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "command",
    [["find", "x"], ["show", "1"], ["db", "status"], ["db", "upgrade"], ["pool"], ["stats"]],
    ids=lambda words: " ".join(words),
)
def test_a_missing_database_is_named_and_nothing_is_created(tmp_path: Path, command: list[str]):
    missing = tmp_path / "no" / "such" / "dir" / "x.db"
    result = run_crm("--db", str(missing), *command)
    assert result.returncode == 4, result.stderr
    assert str(missing) in result.stderr
    assert "crm init" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "no").exists(), "a command other than init created files"


def test_a_missing_file_in_an_existing_directory_is_not_created(tmp_path: Path):
    missing = tmp_path / "typo.db"
    result = run_crm("--db", str(missing), "find", "x")
    assert result.returncode == 4
    assert list(tmp_path.iterdir()) == []


def test_init_creates_the_directory_and_the_database(tmp_path: Path):
    target = tmp_path / "new" / "dir" / "crm.db"
    result = run_crm("--db", str(target), "init")
    assert result.returncode == 0, result.stderr
    assert target.is_file()
    found = run_crm("--db", str(target), "find", "x")
    assert found.returncode == 0, found.stderr
