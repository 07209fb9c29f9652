"""End to end: the real ``crm`` in a real terminal (tmux), a search typed, the screen read back."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crm_tui.config import os_login
from crm_tui.store import Store
from crm_tui.store.helper.transport import helper_wanted
from crm_tui.store.schema.setup import initialise
from tests.tui_data import fill_book, wait_until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (CI installs it)"),
]


class Terminal:
    """One tmux server of our own (its own socket), running one command at 120×36."""

    def __init__(self, command: list[str]) -> None:
        self.helper_expected = False
        """Whether ``crm`` should run the store in its helper process (``store/helper.py``)."""
        self.socket = f"crm-e2e-{uuid.uuid4().hex[:8]}"
        self._tmux("new-session", "-d", "-s", "e2e", "-x", "120", "-y", "36",
                   " ".join(_quote(part) for part in command))

    def _tmux(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args],
                                capture_output=True, text=True, timeout=20, check=True)
        return result.stdout

    def screen(self) -> str:
        """What the pane shows ("" once the program has ended and its session with it)."""
        try:
            return self._tmux("capture-pane", "-p", "-t", "e2e")
        except subprocess.CalledProcessError:
            return ""

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "e2e", *keys)

    def wait_for(self, check: Callable[[str], bool], what: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if check(text):
                return text
            time.sleep(0.1)  # polled: tmux tells no one when the pane changes
        raise AssertionError(f"the screen never showed {what}:\n{text}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=20)


def _quote(part: str) -> str:
    import shlex

    return shlex.quote(part)


@pytest.fixture
def crm_db(tmp_path: Path) -> str:
    """A book whose admin is the account running the test (as ``crm`` will see it)."""
    url = str(tmp_path / "crm.db")
    initialise(url, os_login(), "E2E Admin")
    store = Store(url)
    fill_book(store, store.actor(os_login()))
    store.close()
    return url


@pytest.fixture(params=["1", "0"], ids=["store-helper", "one-process"])
def terminal(crm_db: str, request: pytest.FixtureRequest) -> Iterator[Terminal]:
    """``crm`` as it runs on a machine with two cores (the store in its helper process) and as
    on one core (``CRM_TUI_STORE_HELPER=0``: the store in the app's own process)."""
    env_keep = {key: os.environ[key] for key in ("CRM_CONFIG", "XDG_DATA_HOME") if key in os.environ}
    env_keep["CRM_TUI_STORE_HELPER"] = request.param
    command = ["env", "-u", "COLUMNS", "-u", "LINES", *(f"{k}={v}" for k, v in env_keep.items()), "TERM=xterm-256color",
               sys.executable, "-m", "crm_tui", "--db", crm_db]
    term = Terminal(command)
    term.helper_expected = request.param == "1" and helper_wanted()
    yield term
    term.close()


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(part) for part in path.read_text().split()] if path.exists() else []


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def lines_with(screen: str, text: str) -> list[str]:
    return [line for line in screen.splitlines() if text in line]


def test_search_in_the_real_crm(terminal: Terminal):
    terminal.wait_for(lambda s: "Due today" in s and "Follow-up log" in s, "Due today, where crm opens")
    app_pid = int(terminal._tmux("display", "-p", "-t", "e2e", "#{pane_pid}").strip())
    helpers = children(app_pid)
    assert len(helpers) == (1 if terminal.helper_expected else 0)
    terminal.keys("1")
    screen = terminal.wait_for(lambda s: "My customers · 9 customers" in s, "the list")
    assert "张伟" in screen and "李娜" in screen and "单丽丽" not in screen
    terminal.keys("/")
    terminal.wait_for(lambda s: "Clear search" in s, "the search box focused")
    terminal.keys("z", "h", "a", "n", "g", "w")
    # The whole result, not its first sign: a capture can fall between the status line's
    # repaint and the table's.
    screen = terminal.wait_for(lambda s: "zhangw" in s and "1 customer" in s and "李娜" not in s
                               and len(lines_with(s, "华为技术有限公司")) == 1, "the search result")
    table_lines = lines_with(screen, "华为技术有限公司")
    assert len(table_lines) == 1 and "张伟" in table_lines[0]
    # Each Esc is sent alone and its effect awaited: Esc and a key right behind it in the
    # terminal's buffer read as alt+key.
    terminal.keys("Escape")
    terminal.wait_for(lambda s: "9 customers" in s, "the search cleared")
    terminal.keys("Escape")
    terminal.wait_for(lambda s: "Clear search" not in s, "the search box left")
    terminal.keys("q")
    terminal.wait_for(lambda s: "My customers" not in s and "Due today" not in s, "crm closed")
    wait_until(lambda: not any(running(pid) for pid in helpers), "the store's helper ending with crm")
