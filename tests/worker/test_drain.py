"""Drain on SIGTERM: in-flight work finishes exactly once; over-long work moves elsewhere."""

from __future__ import annotations

import signal
import time
from collections import Counter

import pytest

from tests.apps.slow_app import SlowRequest, read_log
from tests.apps.slow_flows import slow_results, start_slow, wait_for_events
from tests.support.temporal_dev import DevServer
from tests.worker.conftest import StartWorker

pytestmark = pytest.mark.worker

APP = "tests.apps.slow_app"


def test_sigterm_drains_in_flight_activities_exactly_once(
    temporal_server: DevServer, spawn: StartWorker, queue: str, slow_log: str
) -> None:
    activity_queue = f"{queue}-act"
    spawn(queue, f"{APP}:workflows_only").wait_state("ready")
    graceful = 10.0
    worker = spawn(
        activity_queue,
        f"{APP}:activities_only",
        {"WORKER_GRACEFUL_SHUTDOWN_SECONDS": str(graceful)},
    )
    worker.wait_state("ready")
    requests = [SlowRequest(f"a{i}", 3.0, activity_queue) for i in range(24)]
    ids = start_slow(temporal_server.address, queue, requests)
    wait_for_events(slow_log, "start", len(requests))

    sent = time.monotonic()
    worker.signal(signal.SIGTERM)
    code = worker.wait_exit(graceful + 5)
    elapsed = time.monotonic() - sent

    assert code == 0, worker.logs()
    assert elapsed <= graceful + 2, elapsed
    assert sorted(slow_results(temporal_server.address, ids)) == sorted(r.name for r in requests)
    events = read_log(slow_log)
    starts = Counter(e["name"] for e in events if e["event"] == "start")
    dones = Counter(e["name"] for e in events if e["event"] == "done")
    assert set(starts.values()) == {1} and len(starts) == len(requests)
    assert set(dones.values()) == {1} and len(dones) == len(requests)
    assert all(e["attempt"] == 1 for e in events)
    assert not [e for e in events if e["event"] == "cancelled"]
    messages = [r["msg"] for r in worker.log_records()]
    assert "draining" in messages and "drained" in messages


def test_activity_longer_than_budget_is_cancelled_and_retried_elsewhere(
    temporal_server: DevServer, spawn: StartWorker, queue: str, slow_log: str
) -> None:
    first = spawn(queue, f"{APP}:app", {"WORKER_GRACEFUL_SHUTDOWN_SECONDS": "2"})
    first.wait_state("ready")
    ids = start_slow(temporal_server.address, queue, [SlowRequest("long", 6.0, heartbeat=True)])
    wait_for_events(slow_log, "start", 1)
    second = spawn(queue, f"{APP}:app")
    second.wait_state("ready")

    sent = time.monotonic()
    first.signal(signal.SIGTERM)
    assert first.wait_exit(10) == 0, first.logs()
    assert time.monotonic() - sent <= 2 + 2
    assert slow_results(temporal_server.address, ids) == ["long"]

    events = read_log(slow_log)
    assert [(e["event"], e["attempt"]) for e in events if e["pid"] == first.proc.pid] == [
        ("start", 1),
        ("cancelled", 1),
    ]
    retried = [e for e in events if e["attempt"] >= 2 and e["event"] == "done"]
    assert len(retried) == 1
    assert retried[0]["pid"] == second.proc.pid


def test_sigkilled_worker_loses_no_workflow(
    temporal_server: DevServer, spawn: StartWorker, queue: str, slow_log: str
) -> None:
    victim = spawn(queue, f"{APP}:app")
    survivor = spawn(queue, f"{APP}:app")
    victim.wait_state("ready")
    survivor.wait_state("ready")
    requests = [SlowRequest(f"k{i}", 2.0, heartbeat=True) for i in range(12)]
    ids = start_slow(temporal_server.address, queue, requests)
    wait_for_events(slow_log, "start", len(requests))

    victim.signal(signal.SIGKILL)
    assert victim.wait_exit(5) == -signal.SIGKILL
    results = slow_results(temporal_server.address, ids, timeout=90)

    assert sorted(results) == sorted(r.name for r in requests)
    events = read_log(slow_log)
    assert any(e["pid"] == victim.proc.pid for e in events), "the killed worker ran nothing"
    done = Counter(e["name"] for e in events if e["event"] == "done")
    assert set(done) == {r.name for r in requests}


def test_second_signal_exits_at_once(
    temporal_server: DevServer, spawn: StartWorker, queue: str, slow_log: str
) -> None:
    worker = spawn(queue, f"{APP}:app", {"WORKER_GRACEFUL_SHUTDOWN_SECONDS": "30"})
    worker.wait_state("ready")
    start_slow(temporal_server.address, queue, [SlowRequest("stuck", 20.0, heartbeat=True)])
    wait_for_events(slow_log, "start", 1)

    worker.signal(signal.SIGTERM)
    worker.wait_state("draining", timeout=5)
    sent = time.monotonic()
    worker.signal(signal.SIGTERM)
    assert worker.wait_exit(5) == 128 + signal.SIGTERM
    assert time.monotonic() - sent < 2
