"""How long the manager's dashboard takes on a big database (DESIGN §9: the whole dashboard ≤ 1 s).

Times ``Store.dashboard`` (everything ``crm stats`` and the dashboard screen show) for an admin
(every rep), a team manager and a rep, cold (first call after opening) and warm (median of
``--repeat`` calls), plus each of its sections on its own, one after the other. The CPU column
is this process's CPU time (SQLite runs in-process, the file in the page cache): on a shared,
loaded machine it is the closer figure for what the dashboard costs, wall time the user's wait.
The dashboard runs its sections on parallel connections, so its CPU time can exceed its wall
time. On PostgreSQL the work is the server's: the "machine CPU" column (all processes, from
``/proc/stat``, averaged over the warm calls) counts it, with whatever else ran meanwhile.

    python bench/bench_dashboard.py --db /tmp/crm-bench/demo-1m.db
    python bench/bench_dashboard.py --db postgresql://postgres@127.0.0.1/crm_bench_1m
    python bench/bench_dashboard.py --db /tmp/p7-bench/demo-1m.db --build 1000000
    python bench/bench_dashboard.py --db /tmp/crm-bench/demo-1m.db --tui 3

With ``--tui N`` it also opens the dashboard screen in the real ``crm`` (in tmux, as
``bench_tui.py`` runs it) N times per role: from pressing ``4`` on *Due today* until the
screen shows the figures ("as of …"), and the app's CPU time meanwhile.

With ``--build N`` a missing SQLite database is made first with ``crm init --demo N`` (nothing
is committed: the data are built when the script runs). The database is only read.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import build_demo_at  # noqa: E402


def machine_busy() -> float:
    """CPU seconds every process on the machine has used since boot (Linux ``/proc/stat``): the
    PostgreSQL server's work, which this process's CPU time leaves out, is in its difference —
    and so is whatever else runs meanwhile (read it with the load average)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def first_admin(store: Any) -> str:
    from sqlalchemy import select

    from crm_tui.store.db.base import rep_t

    with store.read() as conn:
        return conn.execute(
            select(rep_t.c.login).where(rep_t.c.role == "admin", rep_t.c.active.is_(True))
            .order_by(rep_t.c.id).limit(1)
        ).scalar_one()


def sections(store: Any, actor: Any) -> dict[str, float]:
    """Each section of ``dashboard`` on its own, one after the other in one transaction set up
    as the dashboard sets up each of its own (the arguments ``dashboard`` uses)."""
    times: dict[str, float] = {}
    with store._section_read() as conn:
        rules = store.rules(conn)
        started = time.perf_counter()
        _, reps = store._stats_reps(conn, actor)
        times["reps in scope"] = time.perf_counter() - started
        ids = [rep.id for rep in reps]
        from crm_tui.store.analytics.dashboard import RepStats

        lines = {rep.id: RepStats(rep.login, rep.name) for rep in reps}
        tiers: dict[str, int] = {}
        times["customers by owner and tier"] = timed(
            lambda: tiers.update(store._customer_figures(conn, actor, ids, rules, lines)))
        times["follow-ups 7d/30d"] = timed(lambda: store._follow_up_figures(conn, ids, lines))
        times["pipeline and wins"] = timed(lambda: store._deal_figures(conn, actor, ids, lines))
        times["RFM"] = timed(lambda: store._rfm(conn, actor, ids))
        times["open sea weeks"] = timed(lambda: store._pool_figures(conn))
    return times


def tui_runs(db: str, login: str | None, runs: int) -> tuple[list[float], list[float]]:
    """Key ``4`` to the dashboard's figures on screen, and the app's CPU seconds for it."""
    import shlex
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_tui import Tmux, cpu_seconds, crm_command

    waits, cpus = [], []
    for _ in range(runs):
        ready = Path(tempfile.mkstemp(prefix="crm-ready-")[1])
        ready.unlink()
        acting = ["--as", login] if login else []
        command = " ".join(shlex.quote(part) for part in [*crm_command(), "--db", db, *acting])
        term = Tmux(command, {"CRM_TUI_READY_FILE": str(ready), "CRM_TUI_NO_RECYCLE": "1"})
        try:
            pid = term.pid()
            deadline = time.monotonic() + 120
            while not ready.exists() and time.monotonic() < deadline:
                time.sleep(0.005)
            term.wait(lambda screen: "Due today" in screen)
            time.sleep(1.0)  # let Due today's own loading finish
            cpu = cpu_seconds(pid)
            pressed = term.keys("4")
            shown, _ = term.wait(lambda screen: "as of" in screen)
            cpus.append(cpu_seconds(pid) - cpu)
            waits.append(shown - pressed)
        finally:
            term.close()
            ready.unlink(missing_ok=True)
    return waits, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="/tmp/crm-bench/demo-1m.db")
    parser.add_argument("--build", type=int, default=0, help="build a missing SQLite DB with N customers")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--manager", default="demo.mgr.east")
    parser.add_argument("--rep", default="demo.alice")
    parser.add_argument("--tui", type=int, default=0, help="also open the screen N times per role")
    args = parser.parse_args()
    if args.build:
        build_demo_at(args.db, args.build)

    from crm_tui.store import open_store

    store = open_store(args.db)
    customers = store.customer_count()
    admin = store.actor(first_admin(store))
    who = [("admin", admin), ("manager", store.actor(args.manager)), ("rep", store.actor(args.rep))]
    load = os.getloadavg()
    print(f"# dashboard on {store.label} ({store.backend}), {customers:,} customers")
    print(f"date {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
          f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print()
    print("| who | reps | cold s | warm median s | warm max s | warm median CPU s "
          "| machine CPU s per call |")
    print("|---|---|---|---|---|---|---|")
    for role, actor in who:
        board: Any = None

        def run(actor: Any = actor) -> None:
            nonlocal board
            board = store.dashboard(actor)

        cold = timed(run)
        warm, cpu = [], []
        busy = machine_busy()
        for _ in range(args.repeat):
            started_cpu = time.process_time()
            warm.append(timed(run))
            cpu.append(time.process_time() - started_cpu)
        busy = (machine_busy() - busy) / args.repeat
        print(f"| {role} ({actor.login}) | {len(board.reps)} | {cold:.3f} | "
              f"{statistics.median(warm):.3f} | {max(warm):.3f} | {statistics.median(cpu):.3f} "
              f"| {busy:.2f} |")
    print()
    print("Each section on its own, one after the other on one connection (warm; the dashboard")
    print("runs them on parallel connections):")
    print()
    print("| section | " + " | ".join(f"{role} s" for role, _ in who) + " |")
    print("|---|" + "---|" * len(who))
    columns = [sections(store, actor) for _, actor in who]
    for name in columns[0]:
        print(f"| {name} | " + " | ".join(f"{column[name]:.3f}" for column in columns) + " |")
    store.close()
    if args.tui:
        print()
        print(f"The dashboard screen in crm (tmux 120x36), key 4 to figures shown, {args.tui} runs:")
        print()
        print("| who | median s | max s | app CPU median s |")
        print("|---|---|---|---|")
        for role, actor in who:
            login = None if role == "admin" else actor.login
            waits, cpus = tui_runs(args.db, login, args.tui)
            print(f"| {role} ({actor.login}) | {statistics.median(waits):.3f} | {max(waits):.3f} "
                  f"| {statistics.median(cpus):.3f} |")


if __name__ == "__main__":
    main()
