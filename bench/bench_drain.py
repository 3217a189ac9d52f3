"""Drain overhead: (SIGTERM → exit) minus the longest remaining activity, at 1, 10, 100 in flight.

Run from the repo root: `.venv/bin/python bench/bench_drain.py`. Target: ≤ 1 s overhead and zero
retried activities at 100.
"""

from __future__ import annotations

import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path[:0] = [
    str(Path(__file__).resolve().parents[1]),
    str(Path(__file__).resolve().parents[1] / "worker_image"),
]

from tests.apps.slow_app import SlowRequest, read_log  # noqa: E402
from tests.apps.slow_flows import slow_results, start_slow, wait_for_events  # noqa: E402
from tests.support.temporal_dev import dev_server  # noqa: E402
from tests.support.workers import start_worker  # noqa: E402

ACTIVITY_SECONDS = 3.0


@dataclass
class DrainRun:
    """One measurement."""

    in_flight: int
    stop_to_exit: float
    longest_remaining: float
    retried: int
    exit_code: int

    @property
    def overhead(self) -> float:
        """Time the drain took beyond the work that had to finish anyway."""
        return self.stop_to_exit - self.longest_remaining


def measure(address: str, in_flight: int, workdir: Path) -> DrainRun:
    """Start `in_flight` activities on one worker, SIGTERM it once all run, and time the exit."""
    log = str(workdir / f"activities-{in_flight}.jsonl")
    queue = f"bench-{in_flight}"
    settings = {"SLOW_APP_LOG": log, "WORKER_GRACEFUL_SHUTDOWN_SECONDS": "30"}
    flows = start_worker(address, queue, "tests.apps.slow_app:workflows_only", workdir, settings)
    acts = start_worker(
        address, f"{queue}-act", "tests.apps.slow_app:activities_only", workdir,
        {**settings, "WORKER_MAX_CONCURRENT_ACTIVITIES": str(max(in_flight, 100))},
    )  # fmt: skip
    try:
        flows.wait_state("ready")
        acts.wait_state("ready")
        requests = [
            SlowRequest(f"b{i}", ACTIVITY_SECONDS, f"{queue}-act") for i in range(in_flight)
        ]
        ids = start_slow(address, queue, requests)
        wait_for_events(log, "start", in_flight)
        sent_wall, sent = time.time(), time.monotonic()
        acts.signal(signal.SIGTERM)
        code = acts.wait_exit(60)
        stop_to_exit = time.monotonic() - sent
        slow_results(address, ids)
        events = read_log(log)
        last_start = max(e["ts"] for e in events if e["event"] == "start")
        remaining = max(last_start + ACTIVITY_SECONDS - sent_wall, 0.0)
        retried = sum(1 for e in events if e["attempt"] > 1)
        return DrainRun(in_flight, stop_to_exit, remaining, retried, code)
    finally:
        flows.stop()
        acts.stop()


def main() -> None:
    """Print the drain-overhead table."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp, dev_server() as server:
        for in_flight in (1, 10, 100):
            rows.append(measure(server.address, in_flight, Path(tmp)))
    print(f"activity length {ACTIVITY_SECONDS:g}s; SIGTERM once every activity has started")
    print(
        "| in flight | SIGTERM→exit (s) | longest remaining (s) | overhead (s) | retried | exit |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r.in_flight} | {r.stop_to_exit:.3f} | {r.longest_remaining:.3f} | "
            f"{r.overhead:.3f} | {r.retried} | {r.exit_code} |"
        )


if __name__ == "__main__":
    main()
