"""Shared helpers of the benchmarks: cached demo databases, machine facts, percentiles."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(os.environ.get("CRM_BENCH_DIR", "/tmp/crm-bench"))
CRM = [sys.executable, "-m", "crm_tui.cli.app"]


def crm_command() -> list[str]:
    """How to run ``crm`` from this interpreter (the console script when it is installed)."""
    script = Path(sys.executable).with_name("crm")
    return [str(script)] if script.exists() else CRM


def demo_db(n: int) -> Path:
    """A SQLite demo database of ``n`` customers, built once and reused (read-only after)."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    label = f"{n // 1_000_000}m" if n % 1_000_000 == 0 else f"{n // 1000}k"
    path = BENCH_DIR / f"demo-{label}.db"
    if not path.exists():
        building = path.with_name(path.name + ".building")
        for leftover in BENCH_DIR.glob(building.name + "*"):
            leftover.unlink()
        print(f"building {path} ({n:,} customers) ...", file=sys.stderr)
        subprocess.run([*crm_command(), "--db", str(building), "init", "--demo", str(n), "--json"],
                       check=True, stdout=subprocess.DEVNULL)
        building.rename(path)
    return path


def build_demo_at(path: str, customers: int) -> None:
    """``crm init --demo customers`` into the SQLite file ``path`` unless it exists (URLs are
    left alone: a PostgreSQL database is the caller's to prepare)."""
    if "://" in path or Path(path).exists():
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    subprocess.run([*crm_command(), "--db", path, "init", "--demo", str(customers)], check=True)
    print(f"built {path} with {customers} customers in {time.perf_counter() - started:.1f} s")


def machine() -> str:
    load = os.getloadavg()
    return (f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{time.strftime('%Y-%m-%d %H:%M')}, load {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}")


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def timed_ms(action) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def median(samples: list[float]) -> float:
    return statistics.median(samples) if samples else float("nan")
