"""A PostgreSQL restarted under a running app loses nothing (DESIGN §8).

The test starts a throwaway cluster of its own (initdb into a temporary directory, its own port
and socket directory), keeps one long-lived ``Store`` open on it as the TUI does, and restarts or
stops the server underneath. The store's side of the contract:

- after a restart the next operation just works (a pooled connection whose socket the server
  closed is pinged and replaced before use, engine._ping_idle_connections);
- while the server is down every operation raises ``DatabaseUnavailable``, one sentence, and
  ``ping()`` / ``is_available()`` say so, so the app can show its banner and poll;
- a write that fails never half-lands (one transaction per action), and retrying the same input
  once the server is back writes it exactly once.

It needs the PostgreSQL server binaries (``/usr/lib/postgresql/*/bin``); as root, the cluster
runs as the ``postgres`` account, since the server refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from crm_tui.config import resolve_actor
from crm_tui.store import DatabaseUnavailable, Store
from crm_tui.store.db.base import customer_t
from crm_tui.store.schema.setup import initialise


def _server_bin() -> Path | None:
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(Path(folder) / "initdb", os.X_OK) and os.access(Path(folder) / "pg_ctl", os.X_OK):
            return Path(folder)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found and shutil.which("initdb") else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class OwnCluster:
    bin: Path
    data: Path
    port: int
    run_as: list[str]

    def pg_ctl(self, *args: str) -> None:
        """Run pg_ctl; the server it starts logs to a file, never to our pipes (which it would
        hold open after pg_ctl exits)."""
        log = self.data.parent / "server.log"
        with tempfile.TemporaryFile("w+") as output:
            result = subprocess.run(
                [*self.run_as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(log),
                 "-w", "-t", "60", *args],
                stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=120,
            )
            output.seek(0)
            assert result.returncode == 0, output.read()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


@pytest.fixture
def own_cluster() -> Iterator[OwnCluster]:
    server = _server_bin()
    if server is None:
        pytest.skip("the PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    run_as: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="crm-pg-", dir="/tmp"))
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(base)
            pytest.skip("running as root and there is no postgres account to run a cluster as")
        os.chown(base, account.pw_uid, account.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    base.chmod(0o700)
    data = base / "data"
    cluster = OwnCluster(server, data, _free_port(), run_as)
    subprocess.run([*run_as, str(server / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                    "-E", "UTF8", "--no-locale", "--no-sync"], check=True, capture_output=True,
                   timeout=300)
    options = f"-p {cluster.port} -k {base} -c listen_addresses=127.0.0.1"
    cluster.pg_ctl("-o", options, "start")
    try:
        import psycopg

        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE crm")
        yield cluster
    finally:
        subprocess.run([*run_as, str(server / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def _count(store: Store) -> int:
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(customer_t)).scalar() or 0)


def test_a_restarted_server_loses_nothing_and_the_store_carries_on(own_cluster: OwnCluster):
    url = own_cluster.url("crm")
    initialise(url, "unused", "Admin", prefer_database_role=True)
    store = Store(url)  # one long-lived store, as the TUI holds
    try:
        me = resolve_actor(store)
        ids = [store.add_customer(me, {"name": f"Before {i}", "phone": f"1380013{i:04d}"}).id
               for i in range(20)]
        store.log_follow_up(me, ids[0], "called before the restart", next_at="+2d")
        assert _count(store) == 20  # every pooled connection now points at the old server

        own_cluster.pg_ctl("-m", "fast", "restart")
        store.ping()
        assert store.is_available()
        assert {c.id for c in store.find(me, "before", limit=100)} == set(ids)
        assert [f.summary for f in store.portrait(me, ids[0]).follow_ups] == ["called before the restart"]
        after = store.add_customer(me, {"name": "After the restart"}).id

        own_cluster.pg_ctl("-m", "immediate", "restart")  # a crash: recovery replays the WAL
        assert _count(store) == 21
        assert store.get_customer(after, me).name == "After the restart"
    finally:
        store.close()


def test_while_the_server_is_down_the_store_says_so_and_a_retry_writes_once(own_cluster: OwnCluster):
    url = own_cluster.url("crm")
    initialise(url, "unused", "Admin", prefer_database_role=True)
    store = Store(url)
    try:
        me = resolve_actor(store)
        store.add_customer(me, {"name": "Already There"})
        typed = {"name": "Typed While Down", "phone": "138 0013 8000", "company": "打字公司"}

        own_cluster.pg_ctl("-m", "fast", "stop")
        assert not store.is_available()
        with pytest.raises(DatabaseUnavailable) as down:
            store.ping()
        message = str(down.value)
        assert message.startswith("The database 127.0.0.1/crm cannot be used: ")
        assert message.endswith(".") and "\n" not in message and "Traceback" not in message
        with pytest.raises(DatabaseUnavailable):
            store.add_customer(me, typed)
        with pytest.raises(DatabaseUnavailable):
            store.find(me, "")

        own_cluster.pg_ctl("-o", f"-p {own_cluster.port} -k {own_cluster.data.parent} "
                           "-c listen_addresses=127.0.0.1", "start")
        assert store.is_available()
        created = store.add_customer(me, typed)  # the same input, retried once
        assert [c.id for c in store.find(me, "打字")] == [created.id]
        assert _count(store) == 2
    finally:
        store.close()


def test_a_write_cut_off_by_a_crash_never_half_lands(own_cluster: OwnCluster):
    url = own_cluster.url("crm")
    initialise(url, "unused", "Admin", prefer_database_role=True)
    store = Store(url)
    try:
        me = resolve_actor(store)
        row = dict(name="Half", kind="company", status="lead", locked=False, search_text="half",
                   name_key="half", version=1, created_at=store.clock.now(),
                   updated_at=store.clock.now(), owner_id=me.id)
        with pytest.raises(DatabaseUnavailable), store.write() as conn:
            conn.execute(insert(customer_t).values(**row))
            own_cluster.pg_ctl("-m", "immediate", "restart")
            conn.execute(insert(customer_t).values(**dict(row, name="Other half")))
        assert _count(store) == 0
        store.add_customer(me, {"name": "Whole"})
        assert [c.name for c in store.find(me, "")] == ["Whole"]
    finally:
        store.close()
