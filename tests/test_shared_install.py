"""One ``crm`` install that every account on a shared server can run (issue 15 item 13).

The README's shared-server install: a virtual environment made from the system Python (not a
Python in the installing admin's home, which other accounts cannot enter: "Permission denied"),
in a directory everyone may read, with ``crm`` linked onto everyone's PATH. Two throwaway OS
accounts then run that ``crm`` against one SQLite database made with ``crm init --group``,
and each is itself: what it adds is its own, and it does not see the other's.

How the install is made here, without a network: the virtual environment comes from the system
Python (``python3 -m venv``); its site-packages receives what ``pip install`` would put there
— crm-tui's package files, and the files of each distribution crm-tui depends on, taken from
this test's own environment (hard links where the file system allows, else copies) — and a
``bin/crm`` console script as pip writes it. The accounts are created with ``useradd`` and
removed at the end, so the test needs root (CI runs as root) and skips with the reason
otherwise. It takes some seconds (linking ~5,000 files, four runs of ``crm``).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import crm_tui

SYSTEM_PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3")
ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
       "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def system_python() -> str | None:
    """A system Python that can hold crm (3.11 or newer, with venv), outside anyone's home."""
    for path in SYSTEM_PYTHONS:
        if not os.path.exists(path):
            continue
        probe = subprocess.run(
            [path, "-c", "import sys, venv; sys.exit(sys.version_info < (3, 11))"],
            capture_output=True, timeout=60)
        if probe.returncode == 0:
            return path
    return None


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "needs root to create throwaway OS accounts (CI runs as root)"
    for tool in ("useradd", "userdel", "groupadd", "groupdel", "runuser"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if system_python() is None:
        return "no system Python 3.11+ with venv in " + ", ".join(SYSTEM_PYTHONS)
    return None


def runtime_distributions() -> list[importlib.metadata.Distribution]:
    """The distributions crm-tui needs at run time (its requirements, recursively, no extras)."""
    from packaging.requirements import Requirement

    found: dict[str, importlib.metadata.Distribution] = {}
    todo = ["crm-tui"]
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in found:
            continue
        dist = importlib.metadata.distribution(name)
        found[key] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    del found["crm-tui"]
    return list(found.values())


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def install(python: str, prefix: Path) -> Path:
    """A virtual environment at ``prefix`` from the system ``python`` holding crm and its
    dependencies; returns its ``bin/crm``."""
    subprocess.run([python, "-m", "venv", "--without-pip", str(prefix)], check=True,
                   capture_output=True, timeout=120)
    venv_python = prefix / "bin" / "python"
    site = Path(subprocess.run(
        [str(venv_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True, timeout=60).stdout.strip())
    for dist in runtime_distributions():
        for file in dist.files or []:
            if str(file).startswith(".."):  # scripts and data outside site-packages
                continue
            source = Path(str(file.locate()))
            if source.is_file() and "__pycache__" not in file.parts:
                _link_or_copy(source, site / file)
    shutil.copytree(Path(crm_tui.__file__).parent, site / "crm_tui",
                    ignore=shutil.ignore_patterns("__pycache__"))
    script = prefix / "bin" / "crm"
    script.write_text(f"#!{venv_python}\nimport sys\nfrom crm_tui.launcher import main\n"
                      "if __name__ == '__main__':\n    sys.exit(main())\n")
    script.chmod(0o755)
    for folder, dirs, _files in os.walk(prefix):  # what root's umask 022 gives: dirs a+rx
        for name in dirs:
            os.chmod(Path(folder) / name, 0o755)
    return script


@pytest.fixture
def server() -> Iterator[dict[str, object]]:
    """A shared directory, an install in it, a group and two accounts; all removed after."""
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    python = system_python()
    assert python is not None
    suffix = uuid.uuid4().hex[:6]
    group, users = f"crmi{suffix}", [f"crmia{suffix}", f"crmib{suffix}"]
    base = Path(tempfile.mkdtemp(prefix="crm-install-", dir="/tmp"))
    base.chmod(0o755)
    undo: list[list[str]] = []
    try:
        crm = install(python, base / "opt" / "crm-tui")
        bin_dir = base / "usr-local-bin"  # stands in for /usr/local/bin
        bin_dir.mkdir(mode=0o755)
        (bin_dir / "crm").symlink_to(crm)
        subprocess.run(["groupadd", group], check=True, capture_output=True)
        undo.append(["groupdel", group])
        (base / "home").mkdir(mode=0o755)
        for user in users:
            subprocess.run(["useradd", "-m", "-d", str(base / "home" / user), "-s", "/bin/sh",
                            "-G", group, user], check=True, capture_output=True)
            undo.insert(0, ["userdel", "-r", user])
        yield {"base": base, "crm": bin_dir / "crm", "db": base / "srv" / "crm" / "crm.db",
               "group": group, "users": users}
    finally:
        for command in undo:
            subprocess.run(command, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def run_crm(server: dict[str, object], user: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed ``crm`` (through its PATH link) as ``user``, or as root for None."""
    env = dict(ENV, HOME=str(server["base"] / "home" / user) if user else "/root")  # type: ignore[operator]
    command = [str(server["crm"]), "--db", str(server["db"]), *args]
    if user is not None:
        command = ["runuser", "-u", user, "--", "env", "-i",
                   *(f"{key}={value}" for key, value in env.items()), *command]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=180,
                          cwd=str(server["base"]))


def test_every_account_runs_the_shared_install_as_itself(server):
    users: list[str] = server["users"]  # type: ignore[assignment]
    done = run_crm(server, None, "init", "--group", str(server["group"]))
    assert done.returncode == 0, done.stderr
    for user in users:
        done = run_crm(server, None, "reps", "add", user, "--name", user.title())
        assert done.returncode == 0, done.stderr
    added = {}
    for user in users:
        done = run_crm(server, user, "add", f"Customer of {user}", "--json")
        assert done.returncode == 0, (user, done.stderr)
        record = json.loads(done.stdout)
        assert record["owner"] == user
        added[user] = record["id"]
    for user in users:
        done = run_crm(server, user, "find", "--json")
        assert done.returncode == 0, (user, done.stderr)
        assert [c["id"] for c in json.loads(done.stdout)] == [added[user]]
    # The install's interpreter is the system's, which every account may run.
    interpreter = (Path(str(server["crm"])).resolve().parent / "python").resolve()
    assert str(interpreter).startswith(("/usr/", "/bin/")), interpreter
