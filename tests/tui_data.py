"""A small fixed customer book for the TUI tests: CJK and Latin names, overdue follow-ups, a pool."""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Callable, Coroutine, Iterator
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


async def settle(pilot: Any) -> None:
    """Let timers (the search debounce) fire and every worker and its messages finish."""
    for _ in range(3):
        await pilot.pause(0.12)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
