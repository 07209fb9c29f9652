"""Benchmark: the TUI in a real terminal (tmux) at 10k, 100k and 1M customers (DESIGN §9).

For each database it starts the real ``crm`` in its own tmux server at 120×36 and measures:

- first frame: from launching to the first frame on screen (polling ``capture-pane``);
- first rows: from launching to the moment the first screen (*Due today*, where ``crm`` opens)
  has drawn its first rows from the store, i.e. the store is open and its filter works (the app
  writes the time to ``CRM_TUI_READY_FILE``);
- CPU to first rows: the app's, and its store helper's (``store/helper.py``, on the other core);
- list: ``1`` until the customer list shows its rows and count (its search and sort work);
- all: ``a`` (every customer I may see: the whole book for the admin) until the new count shows;
- search: the last key of ``/`` + a query until the new count shows (includes the 80 ms debounce);
- end: ``G`` until the last page is drawn (the cursor's row changes);
- RSS and peak RSS of the app (``/proc/PID/status``) after all of the above, and the RSS of the
  store's helper process (``store/helper.py``, the app's child) beside it.

Then the same customers as CSV in VisiData (if ``--visidata`` names its ``vd``), for comparison:
the first rows on screen, and the moment it has loaded every row (when search can see them all).

    python bench/bench_tui.py [--sizes 10000 100000] [--db-1m /tmp/crm-bench/demo-1m.db]
        [--pg postgresql://postgres@127.0.0.1/crm_bench] [--runs 3] [--visidata /tmp/vd/bin/vd]
        [--out bench/results/tui.md]

Databases of the given sizes are built once in ``bench/out/`` with ``crm init --demo N``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
BUDGET_FIRST_ROWS_S = 0.6
BUDGET_RSS_MB = 150.0


def crm_command() -> list[str]:
    script = Path(sys.executable).with_name("crm")
    return [str(script)] if script.exists() else [sys.executable, "-m", "crm_tui"]


class Tmux:
    def __init__(self, command: str, env: dict[str, str]) -> None:
        self.socket = f"crm-bench-{uuid.uuid4().hex[:8]}"
        assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        self.started = time.time()
        self._run("new-session", "-d", "-s", "b", "-x", "120", "-y", "36",
                  f"exec env -u COLUMNS -u LINES TERM=xterm-256color {assignments} {command}")

    def _run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args],
                              capture_output=True, text=True, check=True).stdout

    def screen(self) -> str:
        try:
            return self._run("capture-pane", "-p", "-t", "b")
        except subprocess.CalledProcessError:
            return ""

    def pid(self) -> int:
        return int(self._run("display", "-p", "-t", "b", "#{pane_pid}").strip())

    def keys(self, *keys: str) -> float:
        self._run("send-keys", "-t", "b", *keys)
        return time.time()

    def wait(self, check, timeout: float = 120.0, interval: float = 0.005) -> tuple[float, str]:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.screen()
            if check(text):
                return time.time(), text
            time.sleep(interval)
        raise TimeoutError(f"screen never matched:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def status_line(screen: str) -> str:
    for line in screen.splitlines():
        if "customer" in line and "sorted by" in line:
            return line.strip()
    return ""


def counted(screen: str) -> bool:
    line = status_line(screen)
    return bool(line) and "counting" not in line


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (a figure the machine's load barely moves)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(part) for part in path.read_text().split()] if path.exists() else []


def rss_mb(pid: int) -> tuple[float, float]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _sep, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


@dataclass
class Run:
    first_frame: float
    first_rows: float
    cpu_first_rows: float
    helper_cpu_first_rows: float
    """CPU the store's helper process had used by then (it runs on the other core)."""
    to_list: float
    all_rows: float
    search: float
    end: float
    rss: float
    peak: float
    helper_rss: float
    """The store's helper process (store/helper.py), 0 when ``crm`` ran without one."""


@dataclass
class Result:
    label: str
    customers: int
    runs: list[Run] = field(default_factory=list)

    def median(self, name: str) -> float:
        return statistics.median(getattr(run, name) for run in self.runs)

    def worst(self, name: str) -> float:
        return max(getattr(run, name) for run in self.runs)


def one_run(db: str, query: str) -> Run:
    ready = Path(tempfile.mkstemp(prefix="crm-ready-")[1])
    ready.unlink()
    command = " ".join(shlex.quote(part) for part in [*crm_command(), "--db", db])
    # Read only: the shared 1M database must not be written (no recycling at start).
    term = Tmux(command, {"CRM_TUI_READY_FILE": str(ready), "CRM_TUI_NO_RECYCLE": "1"})
    try:
        pid = term.pid()
        frame_at, _ = term.wait(lambda s: "⭘" in s and "crm" in s)  # the header is drawn
        deadline = time.monotonic() + 120
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.002)
        cpu = cpu_seconds(pid)
        helper_cpu = sum(cpu_seconds(child) for child in children(pid))
        rows_at = float(ready.read_text().strip())
        # ``crm`` opens on Due today (DESIGN §1); `1` goes to the customer list.
        term.wait(lambda s: "Due today" in s)
        pressed_list = term.keys("1")
        list_at, screen = term.wait(counted)
        before = status_line(screen)
        pressed = term.keys("a")
        all_at, screen = term.wait(lambda s: counted(s) and status_line(s) != before)
        before = status_line(screen)
        term.keys("/")
        time.sleep(0.2)
        pressed_search = term.keys(*query)
        search_at, screen = term.wait(lambda s: counted(s) and status_line(s) != before)
        term.keys("Escape")
        time.sleep(0.3)
        term.keys("Escape")
        _, screen = term.wait(lambda s: counted(s) and "search" in s)
        time.sleep(0.5)
        first_data_line = screen.splitlines()[6]
        pressed_end = term.keys("G")
        end_at, screen = term.wait(lambda s: s.splitlines()[6] != first_data_line)
        time.sleep(0.3)
        rss, peak = rss_mb(pid)
        helper_rss = sum(rss_mb(child)[0] for child in children(pid))
        return Run(frame_at - term.started, rows_at - term.started, cpu, helper_cpu,
                   list_at - pressed_list,
                   all_at - pressed,
                   search_at - pressed_search, end_at - pressed_end, rss, peak, helper_rss)
    finally:
        term.close()
        ready.unlink(missing_ok=True)


def build_demo(size: int) -> str:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"demo-{size}.db"
    if not path.exists():
        print(f"building {path} ({size:,} customers)…", file=sys.stderr)
        subprocess.run([*crm_command(), "--db", str(path), "init", "--demo", str(size)], check=True)
    return str(path)


def customer_count(db: str) -> int:
    code = ("import sys; from crm_tui.store import open_store; s = open_store(sys.argv[1]);"
            "print(s.customer_count())")
    out = subprocess.run([sys.executable, "-c", code, db], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def export_csv(db: str, path: Path) -> int:
    """The customers as CSV through ``crm export`` (what a user would hand to VisiData)."""
    OUT.mkdir(exist_ok=True)
    if not path.exists():
        subprocess.run([*crm_command(), "--db", db, "export", str(path), "--format", "csv", "--all"],
                       check=True, capture_output=True)
    import csv

    with path.open(encoding="utf-8-sig", newline="") as data:
        return sum(1 for _ in csv.reader(data)) - 1


def visidata_run(vd: str, csv_path: Path, rows: int) -> tuple[float, float, float]:
    term = Tmux(f"{shlex.quote(vd)} {shlex.quote(str(csv_path))}", {"HOME": tempfile.mkdtemp()})
    try:
        first_at, _ = term.wait(lambda s: len(s.splitlines()) > 3
                                and re.match(r"\s*\d+\s*│", s.splitlines()[2]) is not None)
        done_at, _ = term.wait(lambda s: f"{rows} rows" in s.replace(",", ""), timeout=300,
                               interval=0.02)
        rss, _peak = rss_mb(term.pid())
        return first_at - term.started, done_at - term.started, rss
    finally:
        term.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--db-1m", default="/tmp/crm-bench/demo-1m.db")
    parser.add_argument("--pg", action="append", default=[], help="PostgreSQL URL(s) to measure too")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--query", default="wang")
    parser.add_argument("--visidata", default=None, help="path of VisiData's vd, for comparison")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    targets = [(f"SQLite demo-{size}", build_demo(size)) for size in args.sizes]
    if args.db_1m and Path(args.db_1m).exists():
        targets.append(("SQLite demo-1m (shared)", args.db_1m))
    targets += [(f"PostgreSQL {url.rpartition('@')[2]}", url) for url in args.pg]

    load = os.getloadavg()
    results: list[Result] = []
    for label, db in targets:
        result = Result(label, customer_count(db))
        one_run(db, args.query)  # warm the page cache: every figure is a warm start
        for _ in range(args.runs):
            result.runs.append(one_run(db, args.query))
        results.append(result)
        print(label, result.runs, file=sys.stderr)

    vd_rows: list[str] = []
    if args.visidata:
        for label, db in targets:
            if not label.startswith("SQLite"):
                continue
            csv_path = OUT / (Path(db).stem + ".csv")
            rows = export_csv(db, csv_path)
            visidata_run(args.visidata, csv_path, rows)  # warm
            first, done, rss = visidata_run(args.visidata, csv_path, rows)
            vd_rows.append(f"| {label} | {rows:,} | {first:.2f} s | {done:.2f} s | {rss:.0f} MB |")

    lines = [
        "# TUI: start-up, search, jump to the end, memory",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({os.cpu_count()} cores, Python {platform.python_version()}), load average at start "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}.",
        f"Command: `python bench/bench_tui.py {' '.join(shlex.quote(a) for a in sys.argv[1:])}`",
        "",
        "Every figure is from the real `crm` in tmux at 120×36, warm file cache, median of "
        f"{args.runs} runs (worst in brackets). Budgets: first rows ≤ {BUDGET_FIRST_ROWS_S} s, "
        f"RSS ≤ {BUDGET_RSS_MB:.0f} MB, both flat from 10k to 1M.",
        "",
        "| database | customers | first frame | first rows (Due today) | CPU to first rows "
        "(app + helper) | "
        "`1` → customer list | all (`a`) | search keystroke → count | `G` → last page | RSS | "
        "peak RSS | helper RSS |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.label} | {r.customers:,} | {r.median('first_frame'):.2f} s | "
            f"{r.median('first_rows'):.2f} s ({r.worst('first_rows'):.2f}) | "
            f"{r.median('cpu_first_rows'):.2f} + {r.median('helper_cpu_first_rows'):.2f} s | "
            f"{r.median('to_list') * 1000:.0f} ms ({r.worst('to_list') * 1000:.0f}) | "
            f"{r.median('all_rows') * 1000:.0f} ms ({r.worst('all_rows') * 1000:.0f}) | "
            f"{r.median('search') * 1000:.0f} ms ({r.worst('search') * 1000:.0f}) | "
            f"{r.median('end') * 1000:.0f} ms ({r.worst('end') * 1000:.0f}) | "
            f"{r.median('rss'):.0f} MB | {r.worst('peak'):.0f} MB | "
            f"{r.median('helper_rss'):.0f} MB |"
        )
    if vd_rows:
        lines += [
            "",
            "VisiData on the same customers exported with `crm export --format csv --all`, "
            "same terminal, warm cache:",
            "",
            "| database | rows | first rows | all rows loaded (search sees them all) | RSS |",
            "|---|---:|---:|---:|---:|",
            *vd_rows,
        ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
