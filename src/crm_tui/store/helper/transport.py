"""The TUI's store in a helper process: the app starts while SQLAlchemy loads on another core.

Why: at start one interpreter must import Textual (~0.15 s of CPU) and SQLAlchemy with the
store (~0.2 s), and a Python process does both on one core, under one GIL. ``crm`` forks a
helper before either import; the helper imports and opens the store and answers the first
screen's reads over a socket pair while the app, on the other core, imports Textual and draws
its first frame.

It stays for the whole session: the store's CPU (SQL compilation, row building) then never
competes with the screen for the app's GIL. It serves calls whose arguments and results pickle
(the store's records, plain values, ``CrmError``s whole) and runs the change watcher, whose
reports come back as events. What the app may ask is declared once, ``api.StoreApi``: the
helper answers those methods and reports those attributes, and a name not declared there is an
``AttributeError`` in the app. A call with a callable argument (an import's progress), an import,
or any call once the helper has gone goes to the app's own store, opened on that first need
(``HelpedStore.take_over``). A write sent to the helper has committed when its answer arrives.
When the app hangs up, the helper finishes every call in flight, closes its store and exits;
it ignores the terminal's signals (the app's to act on) and never touches the terminal.

This module imports no SQLAlchemy: the app loads it before the first rows.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import pickle
import signal
import socket
import struct
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from crm_tui.store.api import API_ATTRIBUTES, API_METHODS, ChangeCallback, StoreApi
from crm_tui.store.clock import Clock
from crm_tui.store.errors import CrmError, DatabaseUnavailable

if TYPE_CHECKING:
    from crm_tui.store.records import Actor
    from crm_tui.store.store import Store

log = logging.getLogger("crm.helper")

HELPER_ENV = "CRM_TUI_STORE_HELPER"
"""Set to ``0`` to open the store in the app's own process from the start."""

_HEADER = struct.Struct("!I")
_CALL_ID = struct.Struct("!Q")
_ATTRIBUTES = API_ATTRIBUTES - {"clock"}
"""Plain attributes the helper reports with its store (the clock is made in the app)."""

Opener = Callable[[], "tuple[Store, Actor]"]


class HelperFailed(DatabaseUnavailable):
    """The helper process itself failed (not the database): the app may open the store itself."""


class _HelperGone(Exception):
    """The helper cannot take this call (it has exited, or the arguments do not pickle)."""


def helper_wanted() -> bool:
    """A helper pays off only with a second core to run on (and where ``fork`` exists)."""
    if os.environ.get(HELPER_ENV, "1") == "0" or not hasattr(os, "fork"):
        return False
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS: no affinity masks
        cores = os.cpu_count() or 1
    return cores >= 2


def _frame(message: object, prefix: bytes = b"") -> bytes:
    data = prefix + pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


def _send(sock: socket.socket, lock: threading.Lock, message: object) -> None:
    data = _frame(message)
    with lock:
        sock.sendall(data)


def _read_frame(stream: Any) -> bytes | None:
    """The next frame's bytes, or None when the other side has gone."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    return data if len(data) == size else None


def _receive(stream: Any) -> Any:
    """The helper's next message to the app, or None when it has gone."""
    data = _read_frame(stream)
    return None if data is None else pickle.loads(data)


def _receive_call(stream: Any) -> tuple[int, str, tuple[Any, ...], dict[str, Any]] | None:
    """The app's next call to the helper: its id (8 bytes, read first), name and arguments."""
    data = _read_frame(stream)
    if data is None:
        return None
    (call_id,) = _CALL_ID.unpack_from(data)
    name, args, kwargs = pickle.loads(data[_CALL_ID.size:])
    return call_id, name, args, kwargs


def _portable(exc: BaseException) -> BaseException:
    """An exception the app can unpickle without the helper's libraries (SQLAlchemy...)."""
    if isinstance(exc, CrmError):
        try:
            pickle.loads(pickle.dumps(exc))
            return exc
        except Exception:  # noqa: BLE001 - fall back to its sentence
            return CrmError(str(exc))
    return RuntimeError(f"{type(exc).__name__}: {exc}")


# --- the helper's side --------------------------------------------------------------------------

OWN_STORE_METHODS = frozenset({"preview_import", "import_file"})
"""Calls the app's own store takes: an import reads a file, reports progress to a callback and
returns the import machinery's own records (``importing.py``, not worth loading for nothing)."""
WATCH = "__watch__"
"""The call that starts a ``ChangeWatcher`` in the helper; its reports come back as events."""


def _serve(sock: socket.socket, opener: Opener) -> None:
    """The helper process: open the store, answer calls until the app hangs up, then exit."""
    lock = threading.Lock()
    try:
        store, actor = opener()
    except BaseException as exc:  # noqa: BLE001 - reported to the app, which reports it
        _send(sock, lock, ("failed", _portable(exc)))
        return
    attributes = {name: getattr(store, name) for name in _ATTRIBUTES}
    _send(sock, lock, ("ready", actor, attributes))
    if not gc.isenabled():
        # ``launcher`` paused the collector for the start before it forked: the helper lives
        # for the session, so it collects again, with what start-up built frozen out of its way.
        gc.freeze()
        gc.enable()
    threads: list[threading.Thread] = []
    watchers: list[Any] = []

    def report(ids: frozenset[int] | None) -> None:
        with contextlib.suppress(OSError):
            _send(sock, lock, ("changed", ids))

    def answer(call_id: int, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            if name == WATCH:
                watchers.append(store.watch(report))
                value = None
            elif name in API_METHODS:
                value = getattr(store, name)(*args, **kwargs)
            else:
                raise AttributeError(f"the store's helper answers no call named {name!r}")
            data = _frame(("reply", call_id, True, value))
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the caller
            data = _frame(("reply", call_id, False, _portable(exc)))
        with lock:
            sock.sendall(data)

    stream = sock.makefile("rb")
    try:
        while (message := _receive_call(stream)) is not None:
            thread = threading.Thread(target=answer, args=message, daemon=True)
            thread.start()
            threads = [t for t in threads if t.is_alive()]
            threads.append(thread)
    except OSError:
        pass
    finally:
        # The app has gone: what it asked is finished (writes commit) before the store closes.
        for thread in threads:
            thread.join()
        for watcher in watchers:
            watcher.stop()
        store.close()


def _helper_main(sock: socket.socket, opener: Opener) -> None:
    code = 0
    try:
        # The terminal belongs to the app: the helper reads and writes none of it, and keys
        # like ctrl+c (before the app takes the terminal) are the app's to act on.
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGTSTP, signal.SIGQUIT):
            signal.signal(signum, signal.SIG_IGN)
        _serve(sock, opener)
    except BaseException:  # noqa: BLE001 - never fall back into the app's code
        code = 1
    finally:
        os._exit(code)


def start_helper(opener: Opener, open_own: Callable[[], Store], *,
                 only_if_useful: bool = True) -> StoreHelper | None:
    """Fork the helper (call before any thread starts); None where it would not pay off.

    The helper runs ``opener`` (store and acting rep); ``open_own`` opens the same database
    in the app if it ever has to take over.
    """
    if only_if_useful and not helper_wanted():
        return None
    app_end, helper_end = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        app_end.close()
        _helper_main(helper_end, opener)
    helper_end.close()
    return StoreHelper(pid, app_end, open_own)


# --- the app's side -----------------------------------------------------------------------------


class _Pending:
    __slots__ = ("done", "ok", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = False
        self.value: Any = None


class StoreHelper:
    """The app's end of the helper: ``open()`` waits for it and gives a ``HelpedStore``."""

    def __init__(self, pid: int, sock: socket.socket, open_own: Callable[[], Store]) -> None:
        self.pid = pid
        self._sock = sock
        self.open_own = open_own
        """Opens the app's own store (no actor: the helper resolved it, audited, once)."""
        self._send_lock = threading.Lock()
        self._pending: dict[int, _Pending] = {}
        self._pending_lock = threading.Lock()
        self._next_id = 0
        self._gone = False
        self.on_change: ChangeCallback | None = None
        self.ended = threading.Event()
        """Set once the helper has exited and been reaped."""

    def open(self) -> tuple[HelpedStore, Actor]:
        """Block until the helper has opened the store (raising what it raised)."""
        stream = self._sock.makefile("rb")
        message = _receive(stream)
        if message is None or message[0] == "failed":
            self.close()
            self._reap()
            if message is None:
                raise HelperFailed("the store's helper process ended before it opened the database")
            raise message[1]
        _kind, actor, attributes = message
        threading.Thread(target=self._read, args=(stream,), daemon=True,
                         name="store-helper-replies").start()
        # The forwards are set on the class from ``StoreApi`` (``_add_forwards``), out of mypy's
        # sight: to mypy, StoreApi's methods are still abstract on HelpedStore.
        return HelpedStore(self, attributes), actor  # type: ignore[abstract]  # forwards set below

    def call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        pending = _Pending()
        with self._pending_lock:
            self._next_id += 1
            call_id = self._next_id
        try:
            data = _frame((name, args, kwargs), _CALL_ID.pack(call_id))
        except Exception as exc:  # noqa: BLE001 - arguments only the app's own store can take
            raise _HelperGone from exc
        with self._pending_lock:
            if self._gone:
                raise _HelperGone
            self._pending[call_id] = pending
        try:
            with self._send_lock:
                self._sock.sendall(data)
        except OSError as exc:
            with self._pending_lock:
                self._pending.pop(call_id, None)
            raise _HelperGone from exc
        pending.done.wait()
        if pending.ok:
            return pending.value
        if isinstance(pending.value, _HelperGone):
            # Not retried in the app: the helper may have committed a write before it ended.
            raise DatabaseUnavailable(f"the store's helper process ended during {name}; try again")
        raise pending.value

    def _read(self, stream: Any) -> None:
        try:
            while (message := _receive(stream)) is not None:
                if message[0] == "changed":
                    if self.on_change is not None:
                        self.on_change(message[1])
                    continue
                _kind, call_id, ok, value = message
                with self._pending_lock:
                    pending = self._pending.pop(call_id, None)
                if pending is not None:
                    pending.ok, pending.value = ok, value
                    pending.done.set()
        except (OSError, pickle.UnpicklingError, EOFError):
            pass
        with self._pending_lock:
            self._gone = True
            left, self._pending = list(self._pending.values()), {}
        for pending in left:
            pending.value = _HelperGone()
            pending.done.set()
        self._reap()

    def _reap(self) -> None:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        self.ended.set()

    def close(self) -> None:
        """Hang up: the helper finishes what it was asked, closes its store and exits."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_WR)


class HelpedStore(StoreApi):
    """The store as the app sees it (``StoreApi``), served by the helper process.

    Each method of ``StoreApi`` is a forward to the helper, set on this class from the Protocol's
    members (``_add_forwards``); its attributes are those the helper reported when it opened the
    store. A call the helper cannot take (a callable argument, arguments that do not pickle, an
    import, the helper gone) goes to the app's own store, opened then (``take_over``). Any other
    name is an ``AttributeError``: there is no quiet way around the declared surface.
    """

    def __init__(self, helper: StoreHelper, attributes: dict[str, Any]) -> None:
        self._helper = helper
        self._attributes = attributes
        self._clock = Clock()
        self._local: Store | None = None
        self._local_lock = threading.Lock()

    @property
    def helper(self) -> StoreHelper:
        return self._helper

    @property
    def url(self) -> str:
        return str(self._attributes["url"])

    @property
    def label(self) -> str:
        return str(self._attributes["label"])

    @property
    def backend(self) -> str:
        return str(self._attributes["backend"])

    @property
    def is_sqlite(self) -> bool:
        return bool(self._attributes["is_sqlite"])

    @property
    def clock(self) -> Clock:
        """The app's clock (the app's own store, if it opens, shares it)."""
        return self._clock

    def watch(self, on_change: ChangeCallback) -> HelperWatch:
        """Watch other clients' changes (a ``ChangeWatcher`` in the helper, DESIGN §6)."""
        self._helper.on_change = on_change
        # Asked from a thread: the app calls this on its event loop, which must not wait on the
        # helper (it may be busy answering the first screen's reads).
        threading.Thread(target=self._start_watching, daemon=True,
                         name="store-helper-watch").start()
        return HelperWatch(self._helper)

    def _start_watching(self) -> None:
        try:
            self._helper.call(WATCH, (), {})
        except Exception:  # noqa: BLE001 - live updates are lost, the app goes on
            log.warning("the store's helper could not start watching for changes", exc_info=True)

    def take_over(self) -> Store:
        """The app's own store, opened on first need (it imports SQLAlchemy: not on the event
        loop). The helper keeps serving the other calls."""
        with self._local_lock:
            if self._local is None:
                store = self._helper.open_own()
                store.clock = self._clock
                self._local = store
            return self._local

    def close(self) -> None:
        """Close both ends; the helper commits what it was asked first, then exits."""
        self._helper.close()
        if self._local is not None:
            self._local.close()
        # Bounded: a helper stuck on an unreachable database must not hold up leaving.
        self._helper.ended.wait(10)

    def _call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if name not in OWN_STORE_METHODS and not any(callable(v) for v in (*args, *kwargs.values())):
            try:
                return self._helper.call(name, args, kwargs)
            except _HelperGone:
                pass
        return getattr(self.take_over(), name)(*args, **kwargs)


def _forward(name: str) -> Callable[..., Any]:
    def forward(self: HelpedStore, *args: Any, **kwargs: Any) -> Any:
        return self._call(name, args, kwargs)

    forward.__name__ = name
    forward.__qualname__ = f"HelpedStore.{name}"
    forward.__doc__ = getattr(StoreApi, name).__doc__
    return forward


def _add_forwards() -> None:
    """Every method of ``StoreApi`` that ``HelpedStore`` does not write itself goes to the helper."""
    for name in API_METHODS:
        if name not in vars(HelpedStore):
            setattr(HelpedStore, name, _forward(name))


_add_forwards()


class HelperWatch:
    """What ``HelpedStore.watch`` gives: ``stop()`` silences the reports."""

    def __init__(self, helper: StoreHelper) -> None:
        self._helper = helper

    def stop(self) -> None:
        self._helper.on_change = None
