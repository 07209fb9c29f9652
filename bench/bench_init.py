"""Time ``crm init --demo N`` on a fresh SQLite file (DESIGN §9: 1,000,000 in ≤ 120 s).

    python bench/bench_init.py [--n 1000000] [--keep PATH]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import crm_command, machine  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--keep", help="write the database here instead of a temporary file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crm-bench-init-") as tmp:
        path = Path(args.keep) if args.keep else Path(tmp) / "demo.db"
        for leftover in path.parent.glob(path.name + "*"):
            leftover.unlink()
        start = time.perf_counter()
        subprocess.run([*crm_command(), "--db", str(path), "init", "--demo", str(args.n), "--json"],
                       check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6
    verdict = "within" if args.n < 1_000_000 or seconds <= 120 else "OVER"
    print(f"| crm init --demo {args.n:,} (SQLite) | {seconds:.1f} s | {size:,.0f} MB | "
          f"{verdict} budget (120 s at 1M) | {machine()} |")


if __name__ == "__main__":
    main()
