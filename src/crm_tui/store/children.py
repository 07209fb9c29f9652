"""Worker processes that end with the process that started them.

A ``crm import`` or ``crm init --demo`` killed with SIGKILL cannot stop its workers, and a worker
blocked on its queue would live on under PID 1 (one was seen at 445 MB). Each worker therefore asks
Linux to send it SIGKILL when its parent ends (``prctl(PR_SET_PDEATHSIG)``). Elsewhere a thread
watches the parent's pid instead.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

PR_SET_PDEATHSIG = 1
_WATCH_SECONDS = 1.0


def die_with_parent(parent_pid: int | None = None) -> None:
    """Make this (worker) process end when its parent does.

    ``parent_pid``, when the caller knows it, closes the race of a parent that ended before
    this call: the worker then ends at once.
    """
    if not _set_parent_death_signal():
        _watch_parent(parent_pid or os.getppid())
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)


def _set_parent_death_signal() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int) -> None:
    def watch() -> None:
        while os.getppid() == parent_pid:
            threading.Event().wait(_WATCH_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="crm-parent-watch", daemon=True).start()
