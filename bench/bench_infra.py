"""Benchmark: the Pulumi program under mocks for 1, 10 and 100 task queues.

Run from the repo root: `.venv/bin/python bench/bench_infra.py`. Uses the prod stack file (HPA,
PDB, ServiceMonitor and dashboard per queue) with N queues; prints wall and CPU time per run (best
of 4), resources registered, and time per queue. Target: linear growth, <= 5 s at 100 queues.
Exits 1 when the CPU time at 100 queues misses the target or per-queue cost grows more than 1.5x
from 10 to 100 queues (CPU time, because wall time on a shared machine measures the neighbours).
"""

from __future__ import annotations

import gc
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.infra.harness import mocks_reset, run_program, stack_file_config

SIZES = (1, 10, 100)
REPEATS = 4
TARGET_SECONDS_AT_100 = 5.0


def _config(queues: int) -> dict[str, Any]:
    config = stack_file_config("prod")
    config["queues"] = {
        f"queue-{i:03d}": {"app": "orders_app.queues:orders"} for i in range(queues)
    }
    return config


def run_once(queues: int) -> tuple[int, float, float]:
    """Resources registered, wall and CPU seconds of one program run with `queues` queues."""
    config = _config(queues)
    mocks_reset()
    gc.collect()
    start, start_cpu = time.perf_counter(), time.process_time()
    run = run_program(config, stack="prod")
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    mocks_reset()
    return len(run.registrations), wall, cpu


def measure() -> dict[int, tuple[int, float, float]]:
    """Best wall and CPU time per size over `REPEATS` rounds (sizes interleaved, so a burst of
    load on a shared machine does not land on one size only)."""
    best: dict[int, tuple[int, float, float]] = {}
    for _ in range(REPEATS):
        for queues in SIZES:
            resources, wall, cpu = run_once(queues)
            _, best_wall, best_cpu = best.get(queues, (0, float("inf"), float("inf")))
            best[queues] = (resources, min(wall, best_wall), min(cpu, best_cpu))
    return best


def main() -> int:
    """Print the table; exit 1 if the 100-queue run misses the targets."""
    rows = measure()
    print(f"{'queues':>6} | {'resources':>9} | {'wall s':>7} | {'cpu s':>7} | {'cpu ms/queue':>12}")
    print(f"{'-' * 6}-+-{'-' * 9}-+-{'-' * 7}-+-{'-' * 7}-+-{'-' * 12}")
    for queues, (resources, wall, cpu) in rows.items():
        print(
            f"{queues:>6} | {resources:>9} | {wall:>7.3f} | {cpu:>7.3f} | "
            f"{1000 * cpu / queues:>12.1f}"
        )
    cpu_100 = rows[100][2]
    growth = (rows[100][2] / 100) / (rows[10][2] / 10)
    ok = cpu_100 <= TARGET_SECONDS_AT_100 and growth <= 1.5
    print(
        f"100 queues: {cpu_100:.2f} s CPU, {rows[100][1]:.2f} s wall "
        f"(target <= {TARGET_SECONDS_AT_100:.0f} s); per-queue cost 100 vs 10 queues: "
        f"{growth:.2f}x (linear = 1.00x) -> {'OK' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
