"""Benchmark: AnalyzeStack over the Analyzer protocol for stacks of 10, 100 and 200 task queues.

Each queue is 7 resources (ServiceAccount, ConfigMap, Secret, Deployment, HPA, PDB, Service); every
10th queue's HPA has minReplicas=1, so the mandatory poller rule has violations to find. The pack
is started as the engine starts it; the time is the best of 5 AnalyzeStack calls (the least
disturbed by other load on the machine; the load average is printed too). The request is built
before timing: marshalling it is the engine's work, not the pack's.
Run from the repo root: `.venv/bin/python bench/bench_policy.py`.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, for `tests.support`

from tests.support import worker_stacks as ws
from tests.support.analyzer_client import StackResource, policy_pack

SIZES = (10, 100, 200)
RUNS = 5
TARGET_SECONDS = 2.0


def bench_stack(queues: int) -> list[StackResource]:
    """`queues` queues of 7 resources; every 10th queue is short of pollers."""
    stack = ws.good_stack(queues)
    names = sorted({r.name for r in stack if r.type == ws.HPA})
    for name in names[::10]:
        stack = ws.mutate(stack, ws.HPA, name, lambda p: p["spec"].__setitem__("minReplicas", 1.0))
    return stack


def main() -> int:
    """Print the table; exit 1 when the largest stack misses the target."""
    rows = []
    with policy_pack() as run:
        for queues in SIZES:
            stack = bench_stack(queues)
            request = run.session.stack_request(stack)  # the engine's marshalling is not timed
            timings, violations = [], 0
            for _ in range(RUNS):
                start = time.perf_counter()
                diagnostics = run.session.send_stack(request)
                timings.append(time.perf_counter() - start)
                violations = len(diagnostics)
            rows.append((queues, len(stack), min(timings), violations))
    print(f"{'queues':>6}  {'resources':>9}  {'seconds':>7}  {'violations':>10}")
    for queues, resources, seconds, violations in rows:
        print(f"{queues:>6}  {resources:>9}  {seconds:>7.3f}  {violations:>10}")
    worst = rows[-1][2]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"(best of {RUNS} runs; load average {load})")
    verdict = "met" if worst <= TARGET_SECONDS else "MISSED"
    print(f"target <= {TARGET_SECONDS:.1f} s at {SIZES[-1]} queues: {verdict}")
    return 0 if worst <= TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
