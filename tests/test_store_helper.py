"""The store's helper process (``store/helper.py``), on both backends: what the TUI relies on.

``crm`` forks the helper before it imports Textual; the helper opens the store and serves the
app's calls for the whole session. These tests fork real helpers and drive them as the app does.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import struct
import subprocess
import sys
import termios
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crm_tui.store import Actor, Store
from crm_tui.store.errors import (
    AlreadyExists,
    DatabaseUnavailable,
    NotFound,
    RuleRefused,
    ValidationError,
)
from crm_tui.store.helper.transport import HelpedStore, helper_wanted, start_helper
from tests.tui_data import SETTLE_TIMEOUT, wait_until


def _gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for its reaper counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def _unread_bytes(sock: socket.socket) -> int:
    """Bytes sent on ``sock`` that its peer has not read yet (Linux: TIOCOUTQ)."""
    return int(struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0])


def _wait_gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def helped(store: Store, admin: Actor, db_url: str) -> Iterator[tuple[HelpedStore, Actor]]:
    clock = store.clock

    def opener() -> tuple[Store, Actor]:
        # In the helper: its own store and connections, never the parent's.
        own = Store(db_url, clock=clock)
        return own, own.actor("boss")

    helper = start_helper(opener, lambda: Store(db_url, clock=clock), only_if_useful=False)
    assert helper is not None
    served, actor = helper.open()
    yield served, actor
    served.close()
    assert _wait_gone(helper.pid)


def test_reads_through_the_helper_are_the_stores(store, admin, helped):
    served, actor = helped
    assert actor == admin
    wang = store.add_customer(admin, {"name": "王芳", "company": "北京科技", "phone": "13812345678"})
    store.add_customer(admin, {"name": "Zoe Miller", "company": "Acme"}, pool=True)
    store.log_follow_up(admin, wang.id, "called", next_at=store.clock.today())

    from crm_tui.store.records import ListQuery

    assert served.due(actor) == store.due(admin)
    query = ListQuery(scope="all", sort="name")
    assert served.customer_page(actor, query, 0, 10) == store.customer_page(admin, query, 0, 10)
    assert served.count_customers(actor, query) == 2
    assert served.find(actor, "wf", scope="all") == store.find(admin, "wf", scope="all")
    assert served.portrait_view(actor, wang.id) == store.portrait_view(admin, wang.id)
    assert served.dashboard(actor) == store.dashboard(admin)
    assert served.label == store.label


def test_a_write_has_committed_when_the_helper_answers(store, admin, helped):
    served, actor = helped
    added = served.add_customer(actor, {"name": "李娜", "phone": "13900001111"})
    # Another connection, in this process: the helper committed before it answered.
    assert store.get_customer(added.id, admin).name == "李娜"
    served.log_follow_up(actor, added.id, "visited", next_at=store.clock.today())
    assert (added.id, "due") in {(item.customer_id, item.reason) for item in store.due(admin)}


def test_refusals_cross_whole_with_their_field_rule_and_exit_code(store, admin, helped, make_rep):
    served, actor = helped
    with pytest.raises(ValidationError) as bad:
        served.add_customer(actor, {"name": "Bad Phone", "phone": "12"})
    assert bad.value.field == "phone" and bad.value.exit_code == 2
    store.add_customer(admin, {"name": "张伟", "phone": "13812345678"})
    with pytest.raises(AlreadyExists) as duplicate:
        served.add_customer(actor, {"name": "张伟", "phone": "13812345678"})
    assert duplicate.value.rule == "duplicate" and duplicate.value.owner_login == "boss"
    bob = make_rep("bob")
    pooled = store.add_customer(admin, {"name": "Pooled"}, pool=True)
    store.claim(pooled.id, bob)
    with pytest.raises(RuleRefused) as refused:
        served.claim(pooled.id, bob)
    assert refused.value.exit_code == 3 and refused.value.rule == "taken"
    with pytest.raises(NotFound) as missing:
        served.get_customer(999_999, actor)
    assert missing.value.exit_code == 4 and "999999" in str(missing.value)


def test_the_helper_reports_other_clients_changes(store, admin, helped):
    served, _actor = helped
    heard: list[frozenset[int] | None] = []
    got = threading.Event()

    def on_change(ids: frozenset[int] | None) -> None:
        heard.append(ids)
        got.set()

    watch = served.watch(on_change)
    # The watcher connects inside the helper, out of the test's sight, and a commit made before
    # its first reading goes unreported: commit until one is heard; then one is, within 2 s.
    added = []
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while not got.is_set() and time.monotonic() < deadline:
        added.append(store.add_customer(admin, {"name": f"诸葛亮 {len(added)}"}).id)
        got.wait(2.0)
    assert got.is_set(), "no change reported within DESIGN §6's 2 s"
    assert heard[-1] is None or set(heard[-1]) & set(added)
    watch.stop()


def test_a_callable_argument_is_taken_by_the_apps_own_store(store, admin, helped, tmp_path):
    served, actor = helped
    source = tmp_path / "customers.csv"
    source.write_text("name,phone\n赵敏,13700001234\nAda Lovelace,+44 20 7946 0000\n", encoding="utf-8")
    calls: list[tuple[int, int]] = []
    report = served.import_file(actor, source, progress=lambda done, total: calls.append((done, total)))
    assert report.added == 2
    assert calls, "the progress callback ran (only possible in the app's own process)"
    assert {c.name for c in store.find(admin, "", scope="all")} == {"赵敏", "Ada Lovelace"}


def test_after_the_helper_hangs_up_the_app_goes_on_with_its_own_store(store, admin, helped):
    served, actor = helped
    served.helper.close()
    assert served.helper.ended.wait(10)
    added = served.add_customer(actor, {"name": "After Helper"})
    assert store.get_customer(added.id, admin).name == "After Helper"


def test_a_killed_helper_loses_nothing_committed_and_the_app_goes_on(store, admin, helped):
    served, actor = helped
    first = served.add_customer(actor, {"name": "Before Kill"})
    os.kill(served.helper.pid, signal.SIGKILL)
    assert served.helper.ended.wait(10)
    second = served.add_customer(actor, {"name": "After Kill"})
    assert {store.get_customer(i, admin).name for i in (first.id, second.id)} == {"Before Kill", "After Kill"}


def test_a_name_the_store_api_does_not_declare_is_an_attribute_error(store, helped):
    """The seam is ``StoreApi``: a name off it fails in the app, it never opens a second store."""
    from crm_tui.store.api import API_ATTRIBUTES, API_METHODS

    served, actor = helped
    assert hasattr(Store, "visible")  # the store has it, but the app may not ask for it
    with pytest.raises(AttributeError):
        served.visible  # noqa: B018 - the lookup itself is the test
    with pytest.raises(AttributeError):
        served.no_such_method(actor)
    assert served._local is None, "a name off the API opened the app's own store"
    for name in API_METHODS | API_ATTRIBUTES:
        assert hasattr(served, name) and hasattr(store, name), name
    assert served.is_sqlite == (served.backend == "sqlite")


def test_the_helper_leaves_the_terminals_interrupt_to_the_app(helped):
    served, actor = helped
    os.kill(served.helper.pid, signal.SIGINT)  # ctrl+c reaches the whole foreground group
    # A round trip: the helper has taken the signal before it reads the call.
    assert served.due(actor) == []
    assert not _gone(served.helper.pid)
    assert served.due(actor) == []


def test_a_call_in_flight_when_the_helper_dies_is_reported_not_repeated(helped, monkeypatch):
    served, actor = helped
    # A call the helper takes long over: the helper is stopped (SIGSTOP) once it is sent, then
    # killed, so the call is certainly in flight.
    result: list[BaseException | object] = []

    def call() -> None:
        try:
            result.append(served.due(actor))
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            result.append(exc)

    os.kill(served.helper.pid, signal.SIGSTOP)
    thread = threading.Thread(target=call)
    thread.start()
    # Sent: its bytes wait in the socket for the stopped helper.
    wait_until(lambda: _unread_bytes(served.helper._sock) > 0, "the call sent to the helper")
    os.kill(served.helper.pid, signal.SIGKILL)
    thread.join(10)
    assert len(result) == 1 and isinstance(result[0], DatabaseUnavailable)
    assert "helper" in str(result[0]) and "try again" in str(result[0])


HELPER_OWNER = """
import sys, time
from crm_tui.store import Store
from crm_tui.store.helper.transport import start_helper
url = sys.argv[1]
def opener():
    store = Store(url)
    return store, store.actor("boss")
helper = start_helper(opener, lambda: Store(url), only_if_useful=False)
served, actor = helper.open()
print(helper.pid, flush=True)
time.sleep(60)  # an app that lives on until the test kills it
"""


def test_the_helper_ends_when_the_app_is_killed(store, db_url):
    owner = subprocess.Popen([sys.executable, "-c", HELPER_OWNER, db_url], stdout=subprocess.PIPE,
                             text=True)
    try:
        pid = int(owner.stdout.readline())  # type: ignore[union-attr]
        assert not _gone(pid)
        owner.kill()  # SIGKILL: the app had no chance to hang up
        owner.wait(10)
        assert _wait_gone(pid), "the helper outlived the app"
    finally:
        owner.kill()


APP_SIDE = """
import sys
from crm_tui.tui.launch import start_store_helper
helper = start_store_helper(sys.argv[1], None)
import crm_tui.tui.app, crm_tui.tui.screens.follow_ups, crm_tui.tui.screens.customer_list
from crm_tui.store.records import ListQuery
served, me = helper.open()
# What the screens ask, with every kind of record and report coming back.
served.due(me)
served.follow_up_log(me, limit=40)
page = served.customer_page(me, ListQuery(scope="all"), 0, 50)
served.count_customers(me, ListQuery(scope="mine"))
found = served.find(me, "zw", scope="all")
pool = served.customer_page(me, ListQuery(scope="pool"), 0, 50)
served.pool_notes(me, [c.id for c in pool])
served.claim_status(me)
served.claim(pool[0].id, me)
served.release(pool[0].id, me, served.release_reasons()[0])
served.log_follow_up(me, found[0].id, "called", next_at=served.clock.today())
deal = served.add_deal(me, found[0].id, "Routers", "12000")
served.move_deal(me, deal.id, "won")
served.portrait_view(me, found[0].id, follow_up_limit=20)
served.refresh_tiers_if_stale()
served.recycle_if_stale(me)
served.dashboard(me)
served.managed_reps(me)
served.book_count(me, me.login, ListQuery())
served.book_page(me, me.login, ListQuery(), 0, 10)
served.rules()
print(len(page), found[0].name, "sqlalchemy" in sys.modules)
served.close()
"""


def test_the_app_side_of_crm_loads_no_sqlalchemy(sqlite_url, clock):
    """What the helper is for: the TUI process draws rows and searches without SQLAlchemy."""
    from crm_tui.config import os_login
    from crm_tui.store.schema.setup import initialise

    if not helper_wanted():
        pytest.skip("one core: crm opens the store in the app's process")
    initialise(sqlite_url, os_login(), "Me", clock=clock)
    seeded = Store(sqlite_url, clock=clock)
    try:
        me = seeded.actor(os_login())
        seeded.add_customer(me, {"name": "张伟", "phone": "13812345678"})
        seeded.add_customer(me, {"name": "李娜"}, pool=True)
    finally:
        seeded.close()
    env = {k: v for k, v in os.environ.items() if k != "CRM_TUI_STORE_HELPER"}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(APP_SIDE), sqlite_url], env=env,
                         capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert out == ["2", "张伟", "False"], "the app process loaded SQLAlchemy"



def test_importing_the_store_anywhere_else_loads_it_whole():
    """Only ``crm``'s TUI defers the store; ``import crm_tui.store`` (the CLI, scripts, the
    ``crm find`` baseline of DESIGN §9) gets ``Store`` with its engine at once."""
    code = "import sys, crm_tui.store; print('sqlalchemy' in sys.modules, crm_tui.store.Store.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         check=True).stdout.split()
    assert out == ["True", "Store"]


def test_a_helper_that_dies_before_the_database_is_open_leaves_the_app_its_own_store(sqlite_url, clock):
    from crm_tui.config import os_login
    from crm_tui.store.helper.transport import HelperFailed
    from crm_tui.store.schema.setup import initialise
    from crm_tui.tui.launch import open_for_app

    initialise(sqlite_url, os_login(), "Me", clock=clock)

    def dies() -> tuple[Store, Actor]:
        os._exit(3)

    helper = start_helper(dies, lambda: Store(sqlite_url), only_if_useful=False)
    with pytest.raises(HelperFailed):
        helper.open()
    helper = start_helper(dies, lambda: Store(sqlite_url), only_if_useful=False)
    store, actor = open_for_app(helper, sqlite_url, None)
    try:
        assert isinstance(store, Store) and actor.login == os_login()
    finally:
        store.close()
    assert _wait_gone(helper.pid)


def test_what_the_database_says_at_open_is_not_hidden_by_the_fallback(tmp_path):
    """An uninitialised database: the helper's refusal reaches the user as is."""
    from crm_tui.store.errors import SchemaOutOfDate
    from crm_tui.tui.launch import _open_store_and_actor, open_for_app

    url = str(tmp_path / "empty.db")
    (tmp_path / "empty.db").touch()  # there, but never initialised (a missing file is refused)
    helper = start_helper(lambda: _open_store_and_actor(url, None), lambda: Store(url),
                          only_if_useful=False)
    with pytest.raises(SchemaOutOfDate):
        open_for_app(helper, url, None)
