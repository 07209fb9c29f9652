"""Store-side search, keystroke to first page (DESIGN §9: p95 ≤ 30 ms at 1,000,000 customers).

Queries of each kind are drawn from the data itself: Latin words, one and two CJK characters,
pinyin initials, full pinyin (read by words, 重庆 chongqing), pinyin from inside a name (the
brand after a city: boyuan in 沈阳博远生物) and runs of phone digits (4–8, 3, and 9–13 long);
each is timed through ``store.find`` (the first page of 50 records, as ``crm find`` and the
search box ask for it), and the list's first page of the same search (``customer_page``).

Then the ranking case of issue 15 item 7: "Hooli Quantum Ltd", added a moment before among
thousands of Hooli customers, must come first for ``hooli q`` in a page of 50 — in ``find`` and
in the list — within the same budget. It is added in a transaction that is rolled back, so
the database is left as it was.

    python bench/bench_search.py [--n 1000000] [--db PATH_OR_URL] [--queries 200]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import demo_db, machine, percentile, timed_ms  # noqa: E402
from sqlalchemy import text  # noqa: E402

from crm_tui.store import Store  # noqa: E402
from crm_tui.store.records import ListQuery  # noqa: E402
from crm_tui.store.search.pinyin import run_pinyin  # noqa: E402
from crm_tui.store.search.tokens import full_pinyin  # noqa: E402


def sample_queries(store: Store, per_kind: int, seed: int = 7) -> dict[str, list[str]]:
    rng = random.Random(seed)
    with store.read() as conn:
        top = conn.execute(text("SELECT max(id) FROM customer")).scalar() or 1
        ids = [rng.randrange(1, top + 1) for _ in range(per_kind * 4)]
        rows = conn.execute(
            text(f"SELECT name, phone FROM customer WHERE id IN ({','.join(map(str, ids))})")
        ).all()
    cjk = [r.name for r in rows if r.name and "\u4e00" <= r.name[0] <= "\u9fff"]
    latin = [w for r in rows for w in r.name.split() if w.isascii() and w.isalpha() and len(w) > 2]
    phones = [r.phone.lstrip("+") for r in rows if r.phone]
    people = [n for n in cjk if len(n) <= 3]
    companies = [n for n in cjk if len(n) >= 6]

    def pick(pool: list[str], make) -> list[str]:  # type: ignore[no-untyped-def]
        return [make(rng.choice(pool)) for _ in range(per_kind)] if pool else []

    def digits(phone: str, sizes: tuple[int, int] = (4, 9)) -> str:
        size = rng.randrange(*sizes)
        start = rng.randrange(0, len(phone) - size + 1)
        return phone[start:start + size]

    return {
        "Latin word": pick(latin, lambda w: w[: rng.randrange(3, len(w) + 1)].lower()),
        "Latin, one letter": pick(latin, lambda w: w[0].lower()),
        "CJK, 1 character": pick(cjk, lambda n: rng.choice(n)),
        "CJK, 2 characters": pick(cjk, lambda n: n[(i := rng.randrange(0, len(n) - 1)): i + 2]),
        "pinyin initials": pick(people, lambda n: "".join(s[0] for s in _syllables(n))),
        "full pinyin": pick(people, lambda n: full_pinyin(n)),
        "pinyin inside a name": pick(companies, lambda n: "".join(run_pinyin(n)[2:4])),
        "phone digits": pick(phones, digits),
        "phone, 3 digits": pick(phones, lambda p: digits(p, (3, 4))),
        "phone, 9-13 digits": pick(phones, lambda p: digits(p, (9, min(14, len(p) + 1)))),
    }


def _syllables(name: str) -> list[str]:
    return [full_pinyin(ch) or "x" for ch in name]


def run(url: str, per_kind: int) -> list[str]:
    store = Store(url)
    admin_login = _admin(store)
    admin = store.actor(admin_login)
    rep = store.actor(_a_rep(store))
    lines = []
    for kind, queries in sample_queries(store, per_kind).items():
        for who, actor in (("admin", admin), ("rep", rep)):
            store.find(actor, queries[0], limit=50)  # warm the connection and caches
            times = [timed_ms(lambda q=q, a=actor: store.find(a, q, limit=50)) for q in queries]
            lines.append(f"| {store.label} | {kind} | {who} | {len(queries)} | "
                         f"{percentile(times, 50):.1f} | {percentile(times, 95):.1f} | "
                         f"{max(times):.1f} |")
            listing = [timed_ms(lambda q=q, a=actor: store.customer_page(
                a, ListQuery(scope="all", text=q), 0, 50)) for q in queries[: max(1, len(queries) // 4)]]
            lines.append(f"| {store.label} | {kind}, the list's first page | {who} | "
                         f"{len(listing)} | {percentile(listing, 50):.1f} | "
                         f"{percentile(listing, 95):.1f} | {max(listing):.1f} |")
    lines += ranking_case(store, admin)
    store.close()
    return lines


class _Undo(Exception):
    """Rolls the ranking case's customer back."""


def ranking_case(store: Store, admin) -> list[str]:  # type: ignore[no-untyped-def]
    """Issue 15 item 7: ``hooli q`` finds the Hooli Quantum Ltd just added, first, in find and in
    the list; timed inside the transaction that added it (then rolled back)."""
    lines: list[str] = []
    data = store.validate_customer({"name": "Hooli Quantum Ltd"}, "CN")
    try:
        with store.write() as conn:
            wanted = store._insert_customer(conn, admin, data, admin.id, None)
            hooli = conn.execute(text(
                "SELECT count(*) FROM customer WHERE name LIKE 'Hooli%'")).scalar()
            store._ranked_ids(conn, admin, "hooli q", "all", 50)  # warm
            times = [timed_ms(lambda: store._ranked_ids(conn, admin, "hooli q", "all", 50))
                     for _ in range(50)]
            first = store._ranked_ids(conn, admin, "hooli q", "all", 50)[:1]
            query = ListQuery(scope="all", text="hooli q")
            listed: list[int] = []
            page_times = []
            for _ in range(20):
                store.forget_listing_cache()
                start = time.perf_counter()
                ranked, head = store._ranking(conn, admin, query)
                listed = (ranked or head)[:1]
                page_times.append((time.perf_counter() - start) * 1000)
            raise _Undo
    except _Undo:
        pass
    verdict = "first" if first == [wanted] else f"NOT first ({first})"
    in_list = "first" if listed == [wanted] else f"NOT first ({listed})"
    lines.append(f"| {store.label} | ranking: `hooli q` among {hooli:,} Hooli names, find: "
                 f"{verdict} | admin | {len(times)} | {percentile(times, 50):.1f} | "
                 f"{percentile(times, 95):.1f} | {max(times):.1f} |")
    lines.append(f"| {store.label} | ranking: `hooli q`, the list's order: {in_list} | admin | "
                 f"{len(page_times)} | {percentile(page_times, 50):.1f} | "
                 f"{percentile(page_times, 95):.1f} | {max(page_times):.1f} |")
    return lines


def _admin(store: Store) -> str:
    with store.read() as conn:
        return conn.execute(text("SELECT login FROM rep WHERE role = 'admin' ORDER BY id LIMIT 1")).scalar()


def _a_rep(store: Store) -> str:
    with store.read() as conn:
        return conn.execute(text("SELECT login FROM rep WHERE role = 'rep' ORDER BY id LIMIT 1")).scalar()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--db", action="append", help="database path or URL (repeatable)")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    urls = args.db or [str(demo_db(args.n))]
    print(f"Search, first page of 50 through store.find — {machine()}\n")
    print("| database | query kind | actor | queries | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|---|---|")
    for url in urls:
        for line in run(url, args.queries):
            print(line, flush=True)


if __name__ == "__main__":
    main()
