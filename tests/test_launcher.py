"""Bare ``crm`` goes straight to the TUI; everything else to the Typer CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crm_tui.launcher import tui_options

CRM = str(Path(sys.executable).parent / "crm")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], (None, None)),
        (["--db", "x.db"], ("x.db", None)),
        (["--db=x.db", "--as", "alice"], ("x.db", "alice")),
        (["--as=alice"], (None, "alice")),
        (["find"], None),
        (["--db", "x.db", "find", "zw"], None),
        (["--help"], None),
        (["--db"], None),
    ],
)
def test_only_global_options_open_the_tui(args, expected):
    assert tui_options(args) == expected


def test_bare_crm_on_a_missing_database_is_one_sentence(tmp_path):
    result = subprocess.run([CRM, "--db", str(tmp_path / "none.db")], capture_output=True, text=True,
                            timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 4
    assert "crm init" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "none.db").exists()


def test_bare_crm_on_an_uninitialised_database_is_one_sentence(tmp_path):
    (tmp_path / "empty.db").touch()
    result = subprocess.run([CRM, "--db", str(tmp_path / "empty.db")], capture_output=True,
                            text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert "crm init" in result.stderr and "Traceback" not in result.stderr


def test_commands_still_reach_the_cli(tmp_path):
    result = subprocess.run([CRM, "--db", str(tmp_path / "c.db"), "init", "--json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and '"revision"' in result.stdout


EXIT_NOW = """
import atexit, sys
from crm_tui.cli.app import exit_now
atexit.register(lambda: open(sys.argv[1], "w").write("handlers ran"))
sys.stdout.write("buffered output, never flushed by hand")
exit_now(3)
"""


def test_exit_now_runs_the_exit_handlers_flushes_and_keeps_the_code(tmp_path):
    """``crm`` skips the interpreter's teardown, not what a normal exit promises."""
    marker = tmp_path / "marker"
    result = subprocess.run([sys.executable, "-c", EXIT_NOW, str(marker)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert result.stdout == "buffered output, never flushed by hand"
    assert marker.read_text() == "handlers ran"
