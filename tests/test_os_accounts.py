"""Two real OS accounts share one SQLite file made by ``crm init --group`` (DESIGN §5).

The real ``crm`` runs as each throwaway account (``runuser -u``), so identity comes from the
kernel's uid as it would on a shared server. Rep B cannot find, show, log on, export or claim rep
A's private customer; setting ``USER``, ``LOGNAME`` or ``CRM_USER`` to A changes nothing; ``--as``
is refused to non-admins. The accounts and their group are created here and removed after, so
these tests need root (CI runs as root) and skip with the reason otherwise.

SQLite itself cannot stop B from reading the whole file with ``sqlite3``: the README's "Sharing
one database" section says so. What is tested here is the app's rule and the file sharing.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

import crm_tui
from crm_tui.cli.app import app

SECRET = "Alice Secret Trading"
CRM_SCRIPT = Path(sys.executable).parent / "crm"
SITE_PACKAGES = sysconfig.get_paths()["purelib"]
SOURCE_ROOT = str(Path(crm_tui.__file__).resolve().parents[1])
# Runs the console script's entry point with this venv's packages, for an interpreter the
# throwaway account may execute when the venv's own one sits in a directory it cannot enter.
BOOT = (
    f"import site, sys; site.addsitedir({SITE_PACKAGES!r}); sys.path.insert(0, {SOURCE_ROOT!r}); "
    "sys.argv[0] = 'crm'; from crm_tui.cli.app import main; main()"
)


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "needs root to create throwaway OS accounts (CI runs as root)"
    for tool in ("useradd", "userdel", "groupadd", "groupdel", "runuser"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


@dataclass
class Shared:
    base: Path
    db: Path
    group: str
    a: str
    b: str
    runner: list[str]
    env: dict[str, str]

    def crm(self, user: str, *args: str, spoof: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """The real ``crm`` as the OS account ``user`` (``env`` sets variables after runuser)."""
        assignments = [f"{key}={value}" for key, value in (spoof or {}).items()]
        return subprocess.run(
            ["runuser", "-u", user, "--", "env", *assignments, *self.runner, "--db", str(self.db),
             *args],
            capture_output=True, text=True, env=self.env, cwd=self.base, timeout=timeout,
        )

    def crm_json(self, user: str, *args: str, **kwargs: object) -> object:
        result = self.crm(user, *args, "--json", **kwargs)  # type: ignore[arg-type]
        assert result.returncode == 0, (args, result.stderr)
        return json.loads(result.stdout)

    def as_root(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(CRM_SCRIPT), "--db", str(self.db), *args], capture_output=True,
                              text=True, env=self.env, cwd=self.base, timeout=120)


def _runner_for(user: str, env: dict[str, str], cwd: Path) -> tuple[list[str] | None, str]:
    """A command that runs this checkout's ``crm`` as ``user``, or None and why not."""
    minor = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [[str(CRM_SCRIPT)]] + [
        [python, "-c", BOOT] for python in dict.fromkeys(
            path for path in (f"/usr/bin/{minor}", f"/usr/local/bin/{minor}", shutil.which(minor))
            if path and os.path.exists(path)
        )
    ]
    errors = []
    for runner in candidates:
        probe = subprocess.run(["runuser", "-u", user, "--", *runner, "--help"], capture_output=True,
                               text=True, env=env, cwd=cwd, timeout=120)
        if probe.returncode == 0:
            return runner, ""
        errors.append(f"{runner[0]}: {(probe.stderr.strip().splitlines() or ['?'])[-1]}")
    return None, "; ".join(errors)


@pytest.fixture(scope="module")
def shared() -> Iterator[Shared]:
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    suffix = uuid.uuid4().hex[:6]
    group, a, b = f"crmg{suffix}", f"crma{suffix}", f"crmb{suffix}"
    base = Path(tempfile.mkdtemp(prefix="crm-os-", dir="/tmp"))
    base.chmod(0o755)
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "COLUMNS": "200",
           "CRM_CONFIG": str(base / "no-config.toml"), "XDG_DATA_HOME": str(base / "xdg")}
    created: list[list[str]] = []
    try:
        subprocess.run(["groupadd", group], check=True, capture_output=True)
        created.append(["groupdel", group])
        for user in (a, b):
            subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", "-G", group, user],
                           check=True, capture_output=True)
            created.insert(0, ["userdel", user])
        runner, why = _runner_for(b, env, base)
        if runner is None:
            pytest.skip(f"no Python the throwaway account may run sees this checkout ({why})")
        yield Shared(base, base / "crm" / "crm.db", group, a, b, runner, env)
    finally:
        for command in created:
            subprocess.run(command, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def seeded(shared: Shared) -> dict[str, int]:
    """root runs ``crm init --group`` and adds A and B; A adds a private and an open-sea customer."""
    result = shared.as_root("init", "--group", shared.group)
    assert result.returncode == 0, result.stderr
    for user, name in ((shared.a, "Alice"), (shared.b, "Bob")):
        result = shared.as_root("reps", "add", user, "--name", name)
        assert result.returncode == 0, result.stderr
    secret = shared.crm_json(shared.a, "add", SECRET, "--phone", "138 0013 8000",
                             "--company", "秘密科技")["id"]  # type: ignore[index]
    log = shared.crm(shared.a, "log", str(secret), "quoted 40k", "--next", "+3d")
    assert log.returncode == 0, log.stderr
    pool = shared.crm_json(shared.a, "add", "Open Sea Works", "--pool")["id"]  # type: ignore[index]
    return {"secret": secret, "pool": pool}


def _mode(path: Path) -> tuple[int, int]:
    info = path.stat()
    return stat.S_IMODE(info.st_mode), info.st_gid


def test_init_group_makes_a_directory_and_file_the_group_shares(shared: Shared, seeded):
    import grp

    gid = grp.getgrnam(shared.group).gr_gid
    assert _mode(shared.db.parent) == (0o2770, gid)
    assert _mode(shared.db) == (0o660, gid)


def test_each_account_acts_as_itself(shared: Shared, seeded):
    mine = shared.crm_json(shared.a, "find", "--mine")
    assert [c["id"] for c in mine] == [seeded["secret"]]  # type: ignore[index]
    assert mine[0]["owner"] == shared.a  # type: ignore[index]
    assert shared.crm_json(shared.b, "find", "--mine") == []


@pytest.mark.parametrize("spoofed", [False, True], ids=["plain", "USER-LOGNAME-CRM_USER-set-to-A"])
def test_b_cannot_reach_as_private_customer(shared: Shared, seeded, spoofed: bool):
    spoof = {"USER": shared.a, "LOGNAME": shared.a, "CRM_USER": shared.a} if spoofed else None
    secret = str(seeded["secret"])

    found = shared.crm_json(shared.b, "find", spoof=spoof)
    assert [c["id"] for c in found] == [seeded["pool"]]  # type: ignore[index]
    for query in ("Secret", "13800138000", "秘密", "mimi")[: 1 if spoofed else None]:
        assert shared.crm_json(shared.b, "find", query, spoof=spoof) == []

    for args, codes in ((("show", secret), {4}), (("show", SECRET), {4}),
                        (("log", secret, "poaching"), {4}), (("claim", secret), {3, 4})):
        result = shared.crm(shared.b, *args, spoof=spoof)
        assert result.returncode in codes, (args, result.returncode, result.stderr)
        leaked = result.stdout + result.stderr.replace(SECRET, "")  # "show NAME" echoes the name
        assert "秘密" not in leaked and "8000" not in leaked and "quoted" not in leaked, args

    if shared.crm(shared.b, "export", "--help").returncode == 0:
        exported = shared.crm(shared.b, "export", "--format", "json", spoof=spoof)
        assert exported.returncode == 0, exported.stderr
        assert [row["id"] for row in json.loads(exported.stdout)] == [seeded["pool"]]
    else:  # the export command has not landed
        pytest.fail("crm export is missing: B's export could not be checked")

    refused = shared.crm(shared.b, "--as", shared.a, "find", spoof=spoof)
    assert refused.returncode == 3 and "admin" in refused.stderr
    # Nothing of A's moved.
    assert [c["id"] for c in shared.crm_json(shared.a, "find", "--mine")] == [seeded["secret"]]


def test_the_wal_files_stay_usable_by_every_account_whatever_its_umask(shared: Shared, seeded):
    """B holds the database open (so its -wal and -shm exist, created under umask 077) while
    A writes; both accounts' processes share them through the group."""
    import grp

    gid = grp.getgrnam(shared.group).gr_gid
    holder_code = (
        "import json, os, sqlite3, sys; os.umask(0o077); db = sys.argv[1]; "
        "c = sqlite3.connect(db); c.execute('SELECT count(*) FROM customer').fetchone(); "
        "print(json.dumps({s: [os.stat(db + s).st_gid, os.stat(db + s).st_mode & 0o7777] "
        "for s in ('-wal', '-shm')}), flush=True); sys.stdin.readline(); c.close()"
    )
    python = shared.runner[0] if shared.runner[1:2] == ["-c"] else "python3"
    holder = subprocess.Popen(
        ["runuser", "-u", shared.b, "--", python, "-c", holder_code, str(shared.db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=shared.env, cwd=shared.base,
    )
    try:
        line = holder.stdout.readline() if holder.stdout else ""
        assert line, holder.stderr.read() if holder.stderr else ""
        files = json.loads(line)
        for suffix, (group_id, mode) in files.items():
            assert group_id == gid and mode & 0o660 == 0o660, (suffix, group_id, oct(mode))
        added = shared.crm(shared.a, "add", "Alice While B Reads")
        assert added.returncode == 0, added.stderr
        mine = shared.crm(shared.b, "add", "Bob Own Ltd")
        assert mine.returncode == 0, mine.stderr
    finally:
        holder.communicate("\n", timeout=60)
    assert holder.returncode == 0


def test_group_option_refuses_what_it_cannot_share(tmp_path: Path):
    runner = CliRunner()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["--db", str(busy / "crm.db"), "init", "--group", "root"])
    assert result.exit_code == 2 and "directory of its own" in result.stderr
    assert not (busy / "crm.db").exists()
    result = runner.invoke(app, ["--db", str(tmp_path / "x" / "crm.db"), "init", "--group",
                                 f"nogroup{uuid.uuid4().hex[:6]}"])
    assert result.exit_code == 2 and "no Unix group" in result.stderr
    result = runner.invoke(app, ["--db", "postgresql://nobody@127.0.0.1/none", "init", "--group", "x"])
    assert result.exit_code == 2 and "SQLite" in result.stderr
