"""A small fixed customer book for the TUI tests: CJK and Latin names, overdue follow-ups, a pool."""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Callable, Collection, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

from crm_tui.store import Actor, Store

# name, company, phone, status, tier, region, source, tags, next follow-up (None: none), pool
BOOK = [
    ("张伟", "华为技术有限公司", "13800138000", "intent", "A", "广东", "referral", ["vip"], "2026-06-10", False),
    ("李娜", "阿里巴巴集团", "13900139000", "lead", "B", "浙江", "expo", [], "2026-06-20", False),
    ("王芳", "腾讯科技", "13700137000", "deal", "A", "广东", "web", ["vip"], None, False),
    ("刘洋", "字节跳动", "13600136000", "lead", "C", "北京", "web", [], "2026-06-01", False),
    ("陈静", "小米科技", "13500135000", "intent", "B", "北京", "referral", [], "2026-06-15", False),
    ("曾小明", "京东物流", "13400134000", "lead", None, "北京", "cold call", [], None, False),
    ("Alice Martin", "Acme Ltd", "+44 20 7946 0958", "lead", "C", "London", "web", [], "2026-07-01", False),
    ("Bob Stone", "Stone & Sons", "+1 212 555 0100", "lost", None, "New York", "expo", [], None, False),
    ("Carla Diaz", "Diaz Imports", "+34 91 123 4567", "intent", "B", "Madrid", "referral", ["vip"], "2026-06-12", False),
    ("单丽丽", "美团", "13300133000", "lead", None, "北京", "web", [], None, True),
    ("赵强", "百度在线", "13200132000", "lead", None, "北京", "expo", [], None, True),
]


def fill_book(store: Store, admin: Actor, extra: int = 0) -> dict[str, int]:
    """Add ``BOOK`` (owned by ``admin`` unless in the pool) plus ``extra`` numbered customers."""
    ids: dict[str, int] = {}
    for name, company, phone, status, tier, region, source, tags, next_at, pool in BOOK:
        record = store.add_customer(
            admin,
            {"name": name, "company": company, "phone": phone, "status": status, "tier": tier,
             "region": region, "source": source},
            pool=pool, tags=tags or None,
        )
        ids[name] = record.id
        if next_at and not pool:
            store.log_follow_up(admin, record.id, "called", next_at=next_at,
                               at="2026-05-25T10:00:00+00:00")
    for number in range(extra):
        record = store.add_customer(admin, {"name": f"Customer {number:04d}", "company": "Bulk Co"})
        ids[record.name] = record.id
    return ids


@contextmanager
def utc_local_time() -> Iterator[None]:
    """Local time = UTC, so dates in the pictures do not depend on the machine's zone."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = previous
        time.tzset()


def pilot_test(scenario: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async pilot scenario as a plain test (no async plugin needed); fixtures still apply."""

    @functools.wraps(scenario)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(scenario(*args, **kwargs))

    return run


SETTLE_TIMEOUT = 30.0
"""How long a test waits for something it expects before failing (generous: a busy machine)."""
DEBOUNCE_MAX = 1.5
"""One-shot timers this short are debounces (search 0.08 s, follow-up filter 0.25 s, dashboard
reload 1 s): ``settle`` waits for them. Longer ones (a notification's timeout) it does not."""


def wait_until(predicate: Callable[[], object], what: str, timeout: float = SETTLE_TIMEOUT,
               poll: float = 0.01) -> None:
    """Block until ``predicate()`` is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(poll)


async def wait_for(pilot: Any, predicate: Callable[[], object], what: str,
                   timeout: float = SETTLE_TIMEOUT) -> None:
    """Let the app run until ``predicate()`` is true; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        await pilot.pause()


async def settle(pilot: Any, timeout: float = SETTLE_TIMEOUT,
                 ignoring: Collection[str] = ()) -> None:
    """Wait until the app is quiet: typing has settled (no debounce timer left to fire), every
    worker has finished (but those of the groups in ``ignoring``: reconnect pings during an
    outage), and the screen in front has handled the messages they posted.

    Quiet twice in a row: a message handled in the first round may start a worker or a timer.
    """
    app = pilot.app
    deadline = time.monotonic() + timeout
    quiet_rounds = 0
    while quiet_rounds < 2:
        await pilot.pause()
        busy = _busy(app, ignoring)
        quiet_rounds = 0 if busy else quiet_rounds + 1
        if busy and time.monotonic() >= deadline:
            raise AssertionError(f"the app did not settle within {timeout:g} s: {', '.join(busy)}")


def _busy(app: Any, ignoring: Collection[str] = ()) -> list[str]:
    """What keeps the app from being quiet: running workers and debounce timers still to fire."""
    busy = [f"worker {worker.name!r}" for worker in app.workers
            if not worker.is_finished and worker.group not in ignoring]
    # CrmApp hands keys to the widgets one at a time: keys pressed together wait their turn.
    if getattr(app, "_key_in_flight", None) is not None or getattr(app, "_keys_waiting", None):
        busy.append("keys still to be handled")
    # Textual has no public way to ask whether a timer is still to fire: this reads its timer
    # set and each timer's task, and fails loudly (AttributeError) if a release renames them.
    for screen in app.screen_stack:
        for node in screen.walk_children(with_self=True):
            for timer in list(node._timers):
                task = timer._task
                if (timer._repeat == 0 and timer._interval <= DEBOUNCE_MAX
                        and task is not None and not task.done()):
                    busy.append(f"timer {timer.name} on {node!r}")
    return busy
