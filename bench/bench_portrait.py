"""Portrait open and tier refresh on a big database (DESIGN §9 / issue 5).

Budgets: the portrait of a customer with 1,000 follow-ups opens in ≤ 100 ms on the 1M database;
the A/B/C tiers of every customer refresh in ≤ 10 s.

    python bench/bench_portrait.py --db /tmp/crm-bench/demo-1m.db
    python bench/bench_portrait.py --db /tmp/crm-bench/demo-1m.db --build 1000000

The database is COPIED first (to ``--work``, default a temporary folder) and only the copy is
written: a customer with 1,000 follow-ups, 3 contacts and 4 deals is added to it (owned by a
demo rep), then

- store side: ``Store.portrait_view`` (what the screen reads: the newest 50 follow-ups and the
  count) and ``Store.portrait`` with all 1,000 follow-ups, cold (first call) and warm
  (median and p95 of ``--repeat`` calls), as the owning rep and as an admin;
- screen side: the time from pushing ``PortraitScreen`` in a headless app (``App.run_test``) to
  the first refresh after the portrait arrived (``PortraitScreen.first_drawn_at``), wall and
  process CPU, median of 9 (the first, cold, shown apart), beside a plain screen's;
- tiers: the first full refresh of the demo book (set-based writes), a refresh after one deal
  is won (incremental: only the customers whose tier moved are written), and the staleness check
  when nothing changed.

With ``--build N`` a missing SQLite source is made first with ``crm init --demo N`` (nothing is
committed: the data are built when the script runs). PostgreSQL URLs are used in place (no copy):
point ``--db`` at a throwaway database; ``--pg-synthetic N`` (re)creates it with N customers
generated in SQL (faster than the demo generator, fewer fields filled):

    python bench/bench_portrait.py --db postgresql://postgres@127.0.0.1/crm_portrait_bench --pg-synthetic 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import build_demo_at  # noqa: E402

FOLLOW_UPS = 1_000
CHANNELS = ("call", "visit", "wechat", "email", "meeting")


def synthesize_postgresql(url: str, customers: int) -> None:
    """A throwaway PostgreSQL book built in SQL (generate_series): reps, customers (a fifth in the
    open sea), one follow-up each, won deals for a fifth and open deals for a third. Recreates
    the database named in ``url``. Tiers are left empty: ``main`` ranks the book once (the
    first ranking of a book that never had one, e.g. after an import) before the benchmark."""
    import psycopg
    from sqlalchemy.engine import make_url

    from crm_tui.store.schema import migrate as schema
    from crm_tui.store.schema.setup import initialise

    target = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = target.set(database="postgres").render_as_string(hide_password=False)
    admin = admin.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{target.database}"')
    schema.upgrade(url)
    initialise(url, "bench_admin", "Bench Admin")
    started = time.perf_counter()
    steps = [
        """INSERT INTO rep (login, name, role, team, active, created_at)
           SELECT 'bench' || g, 'Bench rep ' || g, 'rep', 'east', true, now()
           FROM generate_series(1, 20) g""",
        """INSERT INTO customer (name, kind, status, owner_id, claimed_at, pool_entered_at, locked,
                                 search_text, name_key, created_at, updated_at, version, tier)
           SELECT 'Customer ' || g, 'company', 'lead',
                  CASE WHEN g % 5 = 0 THEN NULL ELSE r.ids[1 + g % 20] END,
                  CASE WHEN g % 5 = 0 THEN NULL ELSE now() - (g % 300) * interval '1 day' END,
                  CASE WHEN g % 5 = 0 THEN now() END, false, '', 'customer ' || g,
                  now() - interval '400 days', now(), 1, NULL
           FROM generate_series(1, %(n)s) g,
                (SELECT array_agg(id ORDER BY id) AS ids FROM rep WHERE login LIKE 'bench%') r""",
        """INSERT INTO follow_up (customer_id, rep_id, at, channel, summary)
           SELECT c.id, coalesce(c.owner_id, 1), now() - (c.id % 200) * interval '1 hour', 'call', 'called'
           FROM customer c""",
        """INSERT INTO deal (customer_id, owner_id, title, amount, stage, closed_at, created_at, updated_at)
           SELECT c.id, c.owner_id, 'won ' || c.id, round((random() * random() * 2000000)::numeric, 2),
                  'won', now() - (c.id % 500) * interval '1 day', now(), now()
           FROM customer c WHERE c.owner_id IS NOT NULL AND c.id % 4 = 1""",
        """INSERT INTO deal (customer_id, owner_id, title, amount, stage, created_at, updated_at)
           SELECT c.id, c.owner_id, 'open ' || c.id, round((random() * 500000)::numeric, 2),
                  (ARRAY['prospecting', 'qualified', 'proposal', 'negotiation'])[1 + c.id % 4],
                  now(), now()
           FROM customer c WHERE c.owner_id IS NOT NULL AND c.id % 3 = 0""",
        "ANALYZE",
    ]
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True) as conn:
        for step in steps:
            conn.execute(step.replace("%(n)s", str(int(customers))))  # type: ignore[arg-type]
    print(f"synthesized {customers:,} customers on PostgreSQL in {time.perf_counter() - started:.1f} s")


def copy_database(source: str, work: Path) -> str:
    """Copy a SQLite file (and a WAL beside it, checkpointed first) so the source stays untouched."""
    if "://" in source and not source.startswith("sqlite"):
        return source
    import sqlite3

    path = source.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    target = work / "portrait-bench.db"
    started = time.perf_counter()
    shutil.copyfile(path, target)
    print(f"copied {path} ({os.path.getsize(path) / 1e9:.2f} GB) in {time.perf_counter() - started:.1f} s")
    return str(target)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def summary(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return ordered[0], statistics.median(ordered), p95


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def actors(store: Any) -> tuple[Any, Any]:
    """(an admin, the demo rep owning the most customers)."""
    from sqlalchemy import func, select

    from crm_tui.store.db.base import customer_t, rep_t

    with store.read() as conn:
        admin = conn.execute(select(rep_t.c.login).where(rep_t.c.role == "admin")
                             .order_by(rep_t.c.id).limit(1)).scalar_one()
        rep = conn.execute(
            select(rep_t.c.login).join(customer_t, customer_t.c.owner_id == rep_t.c.id)
            .where(rep_t.c.role == "rep", rep_t.c.active.is_(True))
            .group_by(rep_t.c.login).order_by(func.count().desc()).limit(1)
        ).scalar_one()
    return store.actor(admin), store.actor(rep)


def add_busy_customer(store: Any, rep: Any) -> int:
    """A customer with 1,000 follow-ups (bulk-inserted), contacts and deals, owned by ``rep``."""
    from sqlalchemy import insert, update

    from crm_tui.store.db.base import customer_t
    from crm_tui.store.sales.followups import follow_up_t

    with store.write() as conn:
        store._put_setting(conn, "private_cap", 0)  # the copy only: the demo rep may be at cap
    customer = store.add_customer(rep, {"name": "欧阳千条", "company": "千条跟进有限公司",
                                        "industry": "制造"}, force=True)
    for number in range(3):
        store.add_contact(rep, customer.id, {"name": f"联系人{number}", "title": "经理",
                                             "is_primary": number == 0})
    for stage, amount in (("won", "880000"), ("won", "120000"), ("proposal", "300000"),
                          ("prospecting", "50000")):
        store.add_deal(rep, customer.id, f"{stage} deal", amount, stage=stage)
    now = store.clock.now()
    rows = [
        dict(customer_id=customer.id, rep_id=rep.id, at=now - timedelta(hours=6 * number + 1),
             channel=CHANNELS[number % len(CHANNELS)],
             summary=f"第{FOLLOW_UPS - number}次跟进：客户关心交期和价格，约了下次拜访。",
             next_at=None)
        for number in range(FOLLOW_UPS)
    ]
    with store.write() as conn:
        conn.execute(insert(follow_up_t), rows)
        conn.execute(update(customer_t).where(customer_t.c.id == customer.id).values(
            last_follow_up_at=rows[0]["at"], next_follow_up_at=(now + timedelta(days=3)).date()))
    return customer.id


def bench_store(store: Any, customer_id: int, who: dict[str, Any], repeat: int) -> list[str]:
    lines = ["| call | as | cold | min | median | p95 |", "|---|---|---|---|---|---|"]
    calls = {
        "portrait_view (50 newest + count)": lambda actor: store.portrait_view(actor, customer_id),
        "portrait (all 1,000 follow-ups)": lambda actor: store.portrait(actor, customer_id),
    }
    for label, call in calls.items():
        for role, actor in who.items():
            cold = timed(lambda call=call, actor=actor: call(actor))
            samples = [timed(lambda call=call, actor=actor: call(actor)) for _ in range(repeat)]
            low, mid, p95 = summary(samples)
            lines.append(f"| {label} | {role} | {ms(cold)} | {ms(low)} | {ms(mid)} | {ms(p95)} |")
            print(lines[-1])
    return lines


def bench_screen(store: Any, actor: Any, customer_id: int,
                 rounds: int = 9) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Push the portrait screen headless and time it until the portrait is drawn; the same for
    a plain screen (Header, one Static, Footer) as the baseline of what any screen costs here.

    Each sample is (wall, CPU) seconds; CPU is the whole process's (the store read runs in a
    worker thread). The screens are pushed over a blank screen, so that popping them does not
    wake the app's first screen (its reloads would run during the next sample).
    """
    from textual.screen import Screen
    from textual.widgets import Footer, Header, Static

    from crm_tui.store.team import settings as rules_mod
    from crm_tui.tui.app import make_app
    from crm_tui.tui.screens.base import CrmScreen
    from crm_tui.tui.screens.portrait import PortraitScreen
    class PlainScreen(CrmScreen):
        first_drawn_at: float | None = None
        first_drawn_cpu: float | None = None

        def compose(self) -> Any:
            yield Header()
            yield Static("plain")
            yield Footer()

        def on_mount(self) -> None:
            self.call_after_refresh(self.drawn)

        def drawn(self) -> None:
            self.first_drawn_cpu = time.process_time()
            self.first_drawn_at = time.perf_counter()

    if hasattr(type(store), "_upsert_state"):  # the app's own store, not the helper's
        with store.write() as conn:  # the app's start-up recycle would otherwise run (and write) first
            store._upsert_state(conn, rules_mod.LAST_RECYCLE_KEY,
                                rules_mod.encode(store.clock.now().isoformat()))
    # On the customer list, as when this bench was written (crm now opens on Due today, which
    # for a demo rep of the 1M book holds 11,000 due rows under the pushed screens).
    app = make_app(store, actor, cursor_blink=False, watch_changes=False, start_mode="customers")
    samples: list[tuple[float, float]] = []
    plain: list[tuple[float, float]] = []

    async def scenario() -> None:
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.pause(0.5)
            await app.workers.wait_for_complete()
            # As `crm` runs (launcher.py, CrmApp._start_up_over): what start-up built is frozen
            # out of the garbage collector's way, and threads hand over the GIL every 0.5 ms.
            gc.collect()
            gc.freeze()
            sys.setswitchinterval(0.0005)
            await app.push_screen(Screen())
            for _ in range(rounds):
                for screen, into in ((PlainScreen(), plain), (PortraitScreen(customer_id), samples)):
                    await app.workers.wait_for_complete()
                    await pilot.pause(0.1)
                    cpu = time.process_time()
                    started = time.perf_counter()
                    app.push_screen(screen)
                    while screen.first_drawn_at is None:
                        await asyncio.sleep(0.001)
                    into.append((screen.first_drawn_at - started, screen.first_drawn_cpu - cpu))
                    app.pop_screen()

    asyncio.run(scenario())
    return samples, plain


def served_by_a_helper(url: str, login: str) -> tuple[Any, Any]:
    """The store as ``crm`` gives it to the app: served by the helper process (store/helper.py)."""
    from crm_tui.store import Store
    from crm_tui.store.helper.transport import start_helper

    def opener() -> tuple[Any, Any]:
        own = Store(url)
        return own, own.actor(login)

    helper = start_helper(opener, lambda: Store(url), only_if_useful=False)
    assert helper is not None
    return helper.open()


def screen_lines(screen: list[tuple[float, float]], plain: list[tuple[float, float]],
                 how: str = "") -> str:
    lines = []
    for label, who, pairs in (
        (f"PortraitScreen pushed → portrait drawn (headless, 120×36){how}", "owner rep", screen),
        ("baseline: a plain screen (Header, Static, Footer) pushed → drawn", "-", plain),
    ):
        for kind, values in (("wall", [w for w, _c in pairs]), ("CPU", [c for _w, c in pairs])):
            low, mid, _p95 = summary(values)
            lines.append(f"| {label}, {kind} | {who} | {ms(values[0])} | {ms(low)} | {ms(mid)} "
                         f"| {ms(max(values))} (max) |")
    return "\n".join(lines)


def bench_tiers(store: Any, rep: Any, customer_id: int, never_ranked: Any = None) -> list[str]:
    lines = ["| refresh | customers written | time |", "|---|---|---|"]
    if never_ranked is not None:
        lines.append(f"| first ranking of a book that never had tiers (synthetic: every revenue "
                     f"customer written, {'set-based' if never_ranked.bulk else 'row by row'}) "
                     f"| {never_ranked.changed:,} | {never_ranked.seconds:.2f} s |")
        print(lines[-1])
    first = store.refresh_tiers()
    lines.append(f"| first refresh of the book as loaded (the demo ranks it as it loads; "
                 f"{'set-based' if first.bulk else 'row by row'}) "
                 f"| {first.changed:,} | {first.seconds:.2f} s |")
    print(lines[-1])
    fresh = timed(store.refresh_tiers_if_stale)
    lines.append(f"| nothing changed (`refresh_tiers_if_stale`, token check) | 0 | {ms(fresh)} |")
    print(lines[-1])
    deal = store.add_deal(rep, customer_id, "big win", "90000000", stage="negotiation")
    store.move_deal(rep, deal.id, "won")
    after = store.refresh_tiers_if_stale()
    assert after is not None
    lines.append(f"| after one deal won (incremental, {'set-based' if after.bulk else 'row by row'}) "
                 f"| {after.changed:,} | {after.seconds:.2f} s |")
    print(lines[-1])
    lines.append("")
    lines.append(f"Tiers after: A {after.a:,}, B {after.b:,}, C {after.c:,} customers.")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="/tmp/crm-bench/demo-1m.db")
    parser.add_argument("--build", type=int, default=0, help="build a missing SQLite source with N customers")
    parser.add_argument("--pg-synthetic", type=int, default=0,
                        help="(re)create the PostgreSQL database --db with N customers made in SQL")
    parser.add_argument("--work", default="", help="folder for the copy (default: a temporary one)")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--out", default="", help="append the figures (Markdown) to this file")
    args = parser.parse_args()
    if args.build:
        build_demo_at(args.db, args.build)
    if args.pg_synthetic:
        synthesize_postgresql(args.db, args.pg_synthetic)
    work = Path(args.work or tempfile.mkdtemp(prefix="crm-portrait-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    url = copy_database(args.db, work)

    from crm_tui.store import Store

    store = Store(url)
    try:
        never_ranked = store.refresh_tiers() if args.pg_synthetic else None
        admin, rep = actors(store)
        with store.read() as conn:
            from sqlalchemy import func, select

            from crm_tui.store.db.base import customer_t
            from crm_tui.store.sales.followups import follow_up_t

            customers = conn.execute(select(func.count()).select_from(customer_t)).scalar_one()
            follow_ups = conn.execute(select(func.count()).select_from(follow_up_t)).scalar_one()
        started = time.perf_counter()
        customer_id = add_busy_customer(store, rep)
        print(f"added customer {customer_id} with {FOLLOW_UPS} follow-ups in "
              f"{time.perf_counter() - started:.1f} s")
        store_lines = bench_store(store, customer_id, {"owner rep": rep, "admin": admin}, args.repeat)
        screen, plain = bench_screen(store, rep, customer_id)
        screen_line = screen_lines(screen, plain, ", store in the app's process")
        print(screen_line)
        served, served_rep = served_by_a_helper(url, rep.login)
        try:
            screen, plain = bench_screen(served, served_rep, customer_id)
        finally:
            served.close()
        screen_line += "\n" + screen_lines(screen, plain, ", store served by the helper process as `crm` runs")
        print(screen_line)
        tier_lines = bench_tiers(store, rep, customer_id, never_ranked)
    finally:
        store.close()
    load_after = os.getloadavg()
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    report = [
        f"## Portrait and tiers — {backend}, {customers:,} customers, {follow_ups:,} follow-ups",
        "",
        f"- command: `{Path(sys.executable).name} bench/bench_portrait.py --db {args.db}"
        f"{' --pg-synthetic ' + str(args.pg_synthetic) if args.pg_synthetic else ''}"
        f"{' --repeat ' + str(args.repeat) if args.repeat != 30 else ''}`",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores (shared), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}",
        f"- date: {datetime.now(UTC).isoformat(timespec='minutes')}; load average before "
        f"{load_before[0]:.2f}, after {load_after[0]:.2f}",
        f"- the customer: 1,000 follow-ups, 3 contacts, 4 deals, owned by {rep.login}",
        "",
        "Portrait open (budget ≤ 100 ms):",
        "",
        *store_lines,
        screen_line,
        "",
        "Tier refresh (budget ≤ 10 s):",
        "",
        *tier_lines,
        "",
    ]
    text = "\n".join(report)
    print(text)
    if args.out:
        with open(args.out, "a", encoding="utf-8") as out:
            out.write(text + "\n")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
