"""Readiness transitions, retry while Temporal is unreachable, metrics, and the preStop command."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.apps.slow_app import SlowRequest, read_log
from tests.apps.slow_flows import slow_results, start_slow, wait_for_events
from tests.support.ports import free_port
from tests.support.temporal_dev import DevServer, dev_server
from tests.support.workers import base_env, run_workerkit, start_worker
from tests.worker.conftest import StartWorker

pytestmark = pytest.mark.worker

APP = "tests.apps.slow_app"


def test_readiness_follows_starting_ready_draining(tmp_path: Path, slow_log: str) -> None:
    port = free_port()
    worker = start_worker(
        f"127.0.0.1:{port}",
        "readiness",
        f"{APP}:app",
        tmp_path,
        {"WORKER_CONNECT_MAX_BACKOFF_SECONDS": "1", "SLOW_APP_LOG": slow_log},
    )
    try:
        worker.wait_state("starting", timeout=20)
        time.sleep(2.5)  # several retries while nothing listens
        assert worker.proc.poll() is None, "a worker must not crash-loop while Temporal is down"
        assert worker.get("/healthz")[0] == 200
        assert worker.get("/readyz") == (503, {"state": "starting"})
        retries = [r for r in worker.log_records() if r["msg"] == "Temporal unreachable, retrying"]
        assert len(retries) >= 2
        assert all(r["retry_in_s"] <= 1 for r in retries)

        with dev_server(port=port):
            worker.wait_state("ready", timeout=30)
            assert worker.get("/readyz") == (200, {"state": "ready"})
            code, body = worker.get("/drain", method="POST")
            assert code == 202 and body["state"] in ("ready", "draining", "drained")
            assert worker.wait_exit(15) == 0
        states = [r["msg"] for r in worker.log_records()]
        assert states.index("polling") < states.index("draining") < states.index("drained")
    finally:
        worker.stop()


def test_readyz_is_false_while_draining(
    spawn: StartWorker, temporal_server: DevServer, queue: str, slow_log: str
) -> None:
    worker = spawn(queue, f"{APP}:app", {"WORKER_GRACEFUL_SHUTDOWN_SECONDS": "10"})
    worker.wait_state("ready")

    start_slow(temporal_server.address, queue, [SlowRequest("busy", 2.0)])
    wait_for_events(slow_log, "start", 1)
    worker.signal(signal.SIGTERM)
    worker.wait_state("draining", timeout=5)
    assert worker.get("/readyz") == (503, {"state": "draining"})
    assert worker.get("/healthz")[0] == 200  # alive while draining: no liveness kill
    assert worker.get("/status")[1]["in_flight_activities"] == 1
    assert worker.wait_exit(15) == 0


def test_metrics_expose_sdk_runtime_metrics_with_queue_and_build_tags(
    spawn: StartWorker, temporal_server: DevServer, queue: str
) -> None:
    worker = spawn(queue, f"{APP}:app", {"WORKER_IMAGE_BUILD_ID": "build-42"})
    worker.wait_state("ready")

    ids = start_slow(temporal_server.address, queue, [SlowRequest("m", 0.1)])
    assert slow_results(temporal_server.address, ids) == ["m"]
    text = worker.metrics()
    for name in (
        "temporal_workflow_task_schedule_to_start_latency",
        "temporal_activity_schedule_to_start_latency",
        "temporal_worker_task_slots_available",
        "temporal_sticky_cache_size",
        "temporal_request_latency",
        "temporal_long_request",
    ):
        assert name in text, name
    slots = [
        line
        for line in text.splitlines()
        if line.startswith("temporal_worker_task_slots_available{")
    ]
    assert slots and all(f'worker_task_queue="{queue}"' in s for s in slots)
    assert all('worker_build_id="build-42"' in s for s in slots)


def test_prestop_drain_command_blocks_until_drained(
    spawn: StartWorker, temporal_server: DevServer, queue: str, slow_log: str
) -> None:
    worker = spawn(queue, f"{APP}:app", {"WORKER_GRACEFUL_SHUTDOWN_SECONDS": "15"})
    worker.wait_state("ready")

    start_slow(temporal_server.address, queue, [SlowRequest(f"p{i}", 2.0) for i in range(3)])
    wait_for_events(slow_log, "start", 3)
    started = time.monotonic()
    result = run_workerkit(["drain"], worker.env, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "drain: requested; budget 15s; 3 in flight" in result.stdout
    assert "activities in flight" in result.stdout
    assert "drain: worker drained after" in result.stdout
    assert time.monotonic() - started >= 1.0  # it blocked while activities ran
    assert worker.proc.poll() is None  # drained, waiting for the kubelet's SIGTERM
    assert worker.get("/readyz") == (503, {"state": "drained"})
    sent = time.monotonic()
    worker.signal(signal.SIGTERM)
    assert worker.wait_exit(5) == 0
    assert time.monotonic() - sent < 1.5
    assert sum(e["event"] == "done" for e in read_log(slow_log)) == 3


def test_prestop_drain_without_a_worker_returns_at_once() -> None:
    port = free_port()
    result = run_workerkit(["drain"], base_env(WORKER_HEALTH_PORT=str(port)))
    assert result.returncode == 0
    assert (
        result.stdout.strip() == f"drain: no worker answers on 127.0.0.1:{port}; nothing to drain"
    )
