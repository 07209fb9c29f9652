"""``crm find QUERY`` wall time over ``python -c "import crm_tui.store"`` (DESIGN §9: ≤ 60 ms).

Both are run many times as fresh processes; the figures are medians.

    python bench/bench_find.py [--n 1000000] [--db PATH] [--runs 21] [QUERY ...]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import crm_command, demo_db, machine, median  # noqa: E402

CPU: list[float] = []


def wall_ms(command: list[str]) -> float:
    """Wall time of one run; its CPU time (user + system, steadier on a busy machine) goes to CPU."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    took = (time.perf_counter() - start) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--db")
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("queries", nargs="*", default=["张伟", "zw", "8000", "smith"])
    args = parser.parse_args()
    db = args.db or str(demo_db(args.n))
    base_cmd = [sys.executable, "-c", "import crm_tui.store"]
    for _ in range(3):
        wall_ms(base_cmd)
    CPU.clear()
    base = median([wall_ms(base_cmd) for _ in range(args.runs)])
    base_cpu = median(CPU)
    print(f"crm find — {machine()}; database {db}\n")
    print(f"baseline `python -c \"import crm_tui.store\"`: median {base:.0f} ms wall, "
          f"{base_cpu:.0f} ms CPU over {args.runs} runs\n")
    print("| query | crm find median ms | over the baseline ms | CPU over the baseline ms | budget 60 ms |")
    print("|---|---|---|---|---|")
    for query in args.queries:
        command = [*crm_command(), "--db", db, "find", query, "--limit", "20"]
        wall_ms(command)
        CPU.clear()
        took = median([wall_ms(command) for _ in range(args.runs)])
        over = took - base
        cpu_over = median(CPU) - base_cpu
        print(f"| {query} | {took:.0f} | {over:.0f} | {cpu_over:.0f} | "
              f"{'ok' if over <= 60 else 'OVER'} |", flush=True)


if __name__ == "__main__":
    main()
