"""Readiness transitions, retry while Temporal is unreachable, metrics, and the preStop command."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from temporalio.client import Client

from tests.apps.slow_app import SlowRequest, SlowWorkflow, read_log
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

    async def scenario() -> None:
        client = await Client.connect(temporal_server.address)
        await client.start_workflow(
            SlowWorkflow.run, SlowRequest("busy", 2.0), id=f"{queue}-busy", task_queue=queue
        )

    asyncio.run(scenario())
    _wait_until(lambda: any(e["event"] == "start" for e in read_log(slow_log)))
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

    async def scenario() -> None:
        client = await Client.connect(temporal_server.address)
        await client.execute_workflow(
            SlowWorkflow.run, SlowRequest("m", 0.1), id=f"{queue}-m", task_queue=queue
        )

    asyncio.run(scenario())
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

    async def scenario() -> list[str]:
        client = await Client.connect(temporal_server.address)
        ids = []
        for i in range(3):
            handle = await client.start_workflow(
                SlowWorkflow.run, SlowRequest(f"p{i}", 2.0), id=f"{queue}-p{i}", task_queue=queue
            )
            ids.append(handle.id)
        return ids

    asyncio.run(scenario())
    _wait_until(lambda: sum(e["event"] == "start" for e in read_log(slow_log)) == 3)
    started = time.monotonic()
    result = run_workerkit(["drain"], worker.env, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "drain: requested; budget 15s; 3 in flight" in result.stdout
    assert "activities in flight" in result.stdout
    assert time.monotonic() - started >= 1.0  # it blocked while activities ran
    assert worker.wait_exit(5) == 0
    assert sum(e["event"] == "done" for e in read_log(slow_log)) == 3


def test_prestop_drain_without_a_worker_returns_at_once() -> None:
    port = free_port()
    result = run_workerkit(["drain"], base_env(WORKER_HEALTH_PORT=str(port)))
    assert result.returncode == 0
    assert (
        result.stdout.strip() == f"drain: no worker answers on 127.0.0.1:{port}; nothing to drain"
    )


def _wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
