"""The virtual table's store calls at 10k, 100k and 1M customers (DESIGN §9: page down / jump to
the last row ≤ 50 ms). Each figure is the median of several runs of a fresh Store's calls, in the
order the table makes them: count, first page, page down, jump to the last row, page up.

    python bench/bench_listing.py [--sizes 10000,100000,1000000] [--db PATH_OR_URL]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import demo_db, machine, median  # noqa: E402
from sqlalchemy import text  # noqa: E402

from crm_tui.store import Store  # noqa: E402
from crm_tui.store.search.listing import ListQuery  # noqa: E402

PAGE = 50
QUERIES = {
    "by name": ListQuery(scope="all", sort="name"),
    "by next follow-up": ListQuery(scope="all", sort="next_follow_up_at"),
    "search 张, by name": ListQuery(scope="all", sort="name", text="张"),
    "open sea, by name": ListQuery(scope="pool", sort="name"),
}


def one_run(url: str, query: ListQuery) -> tuple[int, dict[str, float]]:
    """A fresh Store making the table's calls in order; milliseconds per call."""
    store = Store(url)
    with store.read() as conn:
        login = conn.execute(text(
            "SELECT login FROM rep WHERE role = 'admin' ORDER BY id LIMIT 1")).scalar()
    actor = store.actor(login)
    figures: dict[str, float] = {}
    start = time.perf_counter()
    total = store.count_customers(actor, query)
    figures["count"] = (time.perf_counter() - start) * 1000
    offsets = {
        "first page": 0,
        "page down": PAGE,
        "last row": max(0, total - PAGE),
        "page up from last": max(0, total - 2 * PAGE),
        "middle": total // 2,
        "page down from middle": total // 2 + PAGE,
    }
    for step, offset in offsets.items():
        start = time.perf_counter()
        store.customer_page(actor, query, offset, PAGE)
        figures[step] = (time.perf_counter() - start) * 1000
    store.close()
    return total, figures


def measure(url: str, runs: int = 5) -> list[str]:
    lines = []
    for label, query in QUERIES.items():
        samples: dict[str, list[float]] = {}
        total = 0
        for _ in range(runs):
            total, figures = one_run(url, query)
            for step, ms in figures.items():
                samples.setdefault(step, []).append(ms)
        cells = " | ".join(f"{median(values):.1f}" for values in samples.values())
        lines.append(f"| {url} | {label} | {total:,} | {cells} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--db", action="append", help="database path or URL instead (repeatable)")
    args = parser.parse_args()
    urls = args.db or [str(demo_db(int(n))) for n in args.sizes.split(",")]
    print(f"Listing, medians in ms — {machine()}\n")
    print("| database | listing | rows | count | first page | page down | last row | "
          "page up from last | middle | page down from middle |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for url in urls:
        for line in measure(url):
            print(line, flush=True)


if __name__ == "__main__":
    main()
