"""Benchmark: concurrent claims, 16 client processes, on PostgreSQL and SQLite (DESIGN §9).

Budget: at least 500 claims/s with 16 clients on PostgreSQL, and zero double claims anywhere.

Each client is its own OS process (forkserver) acting as its own rep through the real
``Store.claim`` (the whole transaction: rep lock, rules, cap/limit/cooldown facts, the
conditional UPDATE, ownership and audit events, change notification, the returned record).
All clients start together at a barrier and claim customers picked at random from one shared
open sea of ``--customers`` for ``--seconds``, so they collide on the same customers more and
more as it empties; a collision is refused ("already claimed by X") and counted, not retried.
``private_cap`` and ``daily_claim_limit`` are 0, so every refusal is a lost race.

Afterwards the database is checked: every claim a client saw succeed owns its customer, and no
customer has more than one ``claimed`` event (a double claim). The figures go to a Markdown file.

    python bench/bench_claims.py [--backend both|postgresql|sqlite] [--clients 16]
        [--customers 20000] [--seconds 15] [--pg-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--repeat 1] [--out bench/results/claims.md]

PostgreSQL: ``--pg-url`` (or ``CRM_BENCH_PG_URL``) names a server where the user may create
databases; a throwaway database is created there and dropped afterwards.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import random
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BUDGET_PG_CLAIMS_PER_S = 500.0
BARRIER_TIMEOUT = 300


# --- the client processes -----------------------------------------------------------------------


def client(barrier: Any, url: str, login: str, ids: list[int], seconds: float, seed: int) -> dict:
    """Claim random customers for ``seconds``; report wins, refusals, errors and latencies."""
    from crm_tui.store import RuleRefused, Store

    store = Store(url)
    actor = store.actor(login)
    store.rules()  # connected and warm before the start
    backend = _backend_pid(store)  # the pool hands this one connection back claim after claim
    rnd = random.Random(seed)
    won: list[int] = []
    refused: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    latencies: list[float] = []
    barrier.wait(BARRIER_TIMEOUT)
    started = time.time()
    cpu_started = time.process_time()
    server_started = _process_cpu(backend)
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        customer_id = rnd.choice(ids)
        t0 = time.perf_counter()
        try:
            store.claim(customer_id, actor)
            won.append(customer_id)
        except RuleRefused as exc:
            refused[exc.rule] += 1
        except Exception as exc:  # noqa: BLE001 - reported, never hidden
            errors[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1
        latencies.append(time.perf_counter() - t0)
    finished = time.time()
    cpu = time.process_time() - cpu_started
    server_finished = _process_cpu(backend)
    server_cpu = (server_finished - server_started
                  if server_started is not None and server_finished is not None else None)
    store.close()
    return {"login": login, "won": won, "refused": dict(refused), "errors": dict(errors),
            "latencies": latencies, "started": started, "finished": finished, "cpu": cpu,
            "server_cpu": server_cpu}


def _backend_pid(store: Any) -> int | None:
    """The PostgreSQL backend serving this client (None on SQLite)."""
    if store.is_sqlite:
        return None
    from sqlalchemy import text

    with store.engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar())


def _process_cpu(pid: int | None) -> float | None:
    """CPU seconds a local process has used, or None (SQLite, or a server on another host)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


# --- set-up -------------------------------------------------------------------------------------


def prepare(url: str, clients: int, customers: int) -> list[int]:
    """Schema, an admin, one rep per client, ``customers`` open-sea customers; returns their ids."""
    from sqlalchemy import insert, select

    from crm_tui.store import Store
    from crm_tui.store.db.base import customer_t
    from crm_tui.store.schema.setup import initialise

    initialise(url, "bench_admin", "Bench Admin")
    store = Store(url)
    try:
        admin = store.actor("bench_admin")
        for n in range(clients):
            store.add_rep(admin, f"bench_rep{n:02d}", f"Bench Rep {n}")
        store.set_rules(admin, {"private_cap": "0", "daily_claim_limit": "0"})
        now = store.clock.now()
        with store.engine.begin() as conn:
            for start in range(0, customers, 5000):
                conn.execute(insert(customer_t), [
                    dict(name=f"Bench customer {n}", kind="company", status="lead", owner_id=None,
                         pool_entered_at=now, locked=False, search_text="",
                         name_key=f"bench customer {n}", created_at=now, updated_at=now, version=1)
                    for n in range(start, min(customers, start + 5000))
                ])
            return list(conn.execute(select(customer_t.c.id).order_by(customer_t.c.id)).scalars())
    finally:
        store.close()


def verify(url: str, results: list[dict]) -> dict[str, int]:
    """Count what the database holds against what the clients saw."""
    from sqlalchemy import func, select

    from crm_tui.store import Store
    from crm_tui.store.db.base import customer_t, ownership_t, rep_t

    store = Store(url)
    try:
        with store.read() as conn:
            owner_of = dict(conn.execute(
                select(customer_t.c.id, rep_t.c.login)
                .join(rep_t, rep_t.c.id == customer_t.c.owner_id)
            ).all())
            events = conn.execute(
                select(ownership_t.c.customer_id, func.count())
                .where(ownership_t.c.kind == "claimed").group_by(ownership_t.c.customer_id)
            ).all()
    finally:
        store.close()
    wins = [(r["login"], cid) for r in results for cid in r["won"]]
    won_customers = Counter(cid for _, cid in wins)
    return {
        "owned": len(owner_of),
        "wins": len(wins),
        "claimed_events": sum(n for _, n in events),
        # A customer two clients both "won", or with two claimed events, is a double claim.
        "double_claims": sum(n - 1 for n in won_customers.values() if n > 1)
        + sum(n - 1 for _, n in events if n > 1),
        "wrong_owner": sum(1 for login, cid in wins if owner_of.get(cid) != login),
    }


# --- one run ------------------------------------------------------------------------------------


def run(backend: str, url: str, clients: int, customers: int, seconds: float) -> dict[str, Any]:
    ids = prepare(url, clients, customers)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["crm_tui.store", "psycopg"])
    with context.Manager() as manager, context.Pool(clients) as pool:
        barrier = manager.Barrier(clients)
        jobs = [(barrier, url, f"bench_rep{n:02d}", ids, seconds, n) for n in range(clients)]
        busy_before, total_before = _machine_cpu()
        results = pool.starmap(client, jobs, chunksize=1)
        busy_after, total_after = _machine_cpu()
    elapsed = max(r["finished"] for r in results) - min(r["started"] for r in results)
    checks = verify(url, results)
    latencies = sorted(x for r in results for x in r["latencies"])
    refused: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for r in results:
        refused.update(r["refused"])
        errors.update(r["errors"])
    return {
        "backend": backend, "clients": clients, "customers": customers, "seconds": elapsed,
        "claims": checks["wins"], "claims_per_s": checks["wins"] / elapsed,
        "attempts_per_s": len(latencies) / elapsed, "refused": dict(refused),
        "errors": dict(errors), "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
        "client_cpu_ms": 1000 * sum(r["cpu"] for r in results) / max(1, len(latencies)),
        "server_cpu_ms": 1000 * sum(r["server_cpu"] for r in results) / max(1, len(latencies))
        if all(r["server_cpu"] is not None for r in results) else None,
        "machine_busy": (busy_after - busy_before) / max(1, total_after - total_before),
        **checks,
    }


def sqlite_run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="crm-bench-claims-") as folder:
        return run("SQLite", str(Path(folder) / "claims.db"), args.clients, args.customers,
                   args.seconds)


def postgresql_run(args: argparse.Namespace) -> dict[str, Any]:
    import psycopg
    from sqlalchemy.engine import make_url

    admin_url = args.pg_url
    name = f"crm_bench_claims_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin_url.replace("postgresql://", "postgresql+psycopg://", 1)).set(
        database=name).render_as_string(hide_password=False)
    try:
        return run("PostgreSQL", url, args.clients, args.customers, args.seconds)
    finally:
        from crm_tui.store.db.engine import make_engine

        make_engine(url).dispose()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- report -------------------------------------------------------------------------------------


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "uptime unavailable"


def postgres_version(url: str) -> str:
    try:
        import psycopg

        with psycopg.connect(url) as conn:
            settings = dict(conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN "
                "('synchronous_commit', 'fsync', 'max_connections')").fetchall())
            version = conn.execute("SHOW server_version").fetchone()[0]
        return f"PostgreSQL {version} ({', '.join(f'{k}={v}' for k, v in sorted(settings.items()))})"
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL unavailable: {exc}"


def report(rows: list[dict[str, Any]], args: argparse.Namespace, load_before: str,
           load_after: str) -> str:
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    lines = [
        "# Concurrent claims",
        "",
        f"- date: {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"- machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, {postgres_version(args.pg_url) if args.backend != 'sqlite' else ''}",
        f"- command: `{command}`",
        f"- load before: `{load_before}`",
        f"- load after: `{load_after}`",
        f"- budget: PostgreSQL ≥ {BUDGET_PG_CLAIMS_PER_S:.0f} claims/s with {args.clients} clients, "
        "zero double claims",
        "",
        "| backend | clients | open sea | seconds | claims | claims/s | attempts/s | lost races "
        "| p50 ms | p95 ms | CPU ms/attempt: clients + server | machine busy | double claims "
        "| wrong owner | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['backend']} | {r['clients']} | {r['customers']:,} | {r['seconds']:.1f} "
            f"| {r['claims']:,} | **{r['claims_per_s']:.0f}** | {r['attempts_per_s']:.0f} "
            f"| {r['refused'].get('taken', 0):,} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} "
            f"| {r['client_cpu_ms']:.2f} + "
            f"{'in-process' if r['server_cpu_ms'] is None else format(r['server_cpu_ms'], '.2f')} "
            f"| {100 * r['machine_busy']:.0f} % "
            f"| {r['double_claims']} | {r['wrong_owner']} | {sum(r['errors'].values())} |"
        )
    lines += ["", "Where the time went (CPU of this machine, measured from /proc):", ""]
    for r in rows:
        clients = r["client_cpu_ms"] * r["attempts_per_s"] / 1000
        text = (f"- {r['backend']}: the {r['clients']} client processes used {clients:.2f} CPU cores")
        if r["server_cpu_ms"] is not None:
            server = r["server_cpu_ms"] * r["attempts_per_s"] / 1000
            text += f" and their PostgreSQL backends {server:.2f}"
        text += (f", of the {os.cpu_count()} this machine has; it was {100 * r['machine_busy']:.0f} % "
                 "busy over the run (other work included).")
        lines.append(text)
    for r in rows:
        if r["errors"]:
            lines += ["", f"Errors on {r['backend']}:"] + [f"- {n} × {e}" for e, n in r["errors"].items()]
        other = {k: v for k, v in r["refused"].items() if k != "taken"}
        if other:
            lines += ["", f"Other refusals on {r['backend']}: {other}"]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["both", "postgresql", "sqlite"], default="both")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--pg-url", default=os.environ.get(
        "CRM_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per backend (the machine may be shared: report them all)")
    parser.add_argument("--out", default="bench/results/claims.md")
    args = parser.parse_args()
    load_before = uptime()
    rows = []
    for _ in range(max(1, args.repeat)):
        if args.backend in ("both", "postgresql"):
            rows.append(postgresql_run(args))
        if args.backend in ("both", "sqlite"):
            rows.append(sqlite_run(args))
    text = report(rows, args, load_before, uptime())
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
    failed = any(r["double_claims"] or r["wrong_owner"] or r["errors"] for r in rows)
    slow = any(r["backend"] == "PostgreSQL" and r["claims_per_s"] < BUDGET_PG_CLAIMS_PER_S
               for r in rows)
    if slow:
        print(f"PostgreSQL is under the budget of {BUDGET_PG_CLAIMS_PER_S:.0f} claims/s.",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
