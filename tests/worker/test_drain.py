"""Drain on SIGTERM: in-flight work finishes exactly once; over-long work moves elsewhere."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter

import pytest
from temporalio.client import Client

from tests.apps.slow_app import SlowRequest, SlowWorkflow, read_log
from tests.support.temporal_dev import DevServer
from tests.worker.conftest import StartWorker

pytestmark = pytest.mark.worker

APP = "tests.apps.slow_app"


def _wait_for_starts(log: str, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(e["event"] == "start" for e in read_log(log)) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} activities started: {read_log(log)}")


async def _start(client: Client, queue: str, requests: list[SlowRequest]) -> list[str]:
    ids = []
    for req in requests:
        handle = await client.start_workflow(
            SlowWorkflow.run, req, id=f"{queue}-{req.name}", task_queue=queue
        )
        ids.append(handle.id)
    return ids


async def _results(client: Client, ids: list[str], timeout: float = 60) -> list[str]:
    handles = [client.get_workflow_handle_for(SlowWorkflow.run, i) for i in ids]
    return await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), timeout)


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

    async def scenario() -> None:
        client = await Client.connect(temporal_server.address)
        ids = await _start(client, queue, requests)
        await asyncio.to_thread(_wait_for_starts, slow_log, len(requests))
        sent = time.monotonic()
        worker.signal(signal.SIGTERM)
        code = await asyncio.to_thread(worker.wait_exit, graceful + 5)
        elapsed = time.monotonic() - sent
        assert code == 0, worker.logs()
        assert elapsed <= graceful + 2, elapsed
        assert sorted(await _results(client, ids)) == sorted(r.name for r in requests)

    asyncio.run(scenario())
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

    async def scenario() -> None:
        client = await Client.connect(temporal_server.address)
        ids = await _start(client, queue, [SlowRequest("long", 6.0, heartbeat=True)])
        await asyncio.to_thread(_wait_for_starts, slow_log, 1)
        second = spawn(queue, f"{APP}:app")
        await asyncio.to_thread(second.wait_state, "ready")
        sent = time.monotonic()
        first.signal(signal.SIGTERM)
        code = await asyncio.to_thread(first.wait_exit, 10)
        assert code == 0, first.logs()
        assert time.monotonic() - sent <= 2 + 2
        assert await _results(client, ids) == ["long"]

    asyncio.run(scenario())
    events = [(e["event"], e["attempt"]) for e in read_log(slow_log)]
    assert ("start", 1) in events and ("cancelled", 1) in events
    assert ("done", 1) not in events
    retried = [e for e in read_log(slow_log) if e["attempt"] >= 2 and e["event"] == "done"]
    assert len(retried) == 1
    assert retried[0]["pid"] != first.proc.pid


def test_sigkilled_worker_loses_no_workflow(
    temporal_server: DevServer, spawn: StartWorker, queue: str, slow_log: str
) -> None:
    victim = spawn(queue, f"{APP}:app")
    survivor = spawn(queue, f"{APP}:app")
    victim.wait_state("ready")
    survivor.wait_state("ready")
    requests = [SlowRequest(f"k{i}", 2.0, heartbeat=True) for i in range(12)]

    async def scenario() -> None:
        client = await Client.connect(temporal_server.address)
        ids = await _start(client, queue, requests)
        await asyncio.to_thread(_wait_for_starts, slow_log, len(requests))
        victim.signal(signal.SIGKILL)
        assert await asyncio.to_thread(victim.wait_exit, 5) == -signal.SIGKILL
        assert sorted(await _results(client, ids, timeout=90)) == sorted(r.name for r in requests)

    asyncio.run(scenario())
    events = read_log(slow_log)
    on_victim = {e["name"] for e in events if e["pid"] == victim.proc.pid}
    assert on_victim, "the killed worker ran none of the activities; the test proves nothing"
    done = Counter(e["name"] for e in events if e["event"] == "done")
    assert set(done) == {r.name for r in requests}


def test_second_signal_exits_at_once(
    temporal_server: DevServer, spawn: StartWorker, queue: str, slow_log: str
) -> None:
    worker = spawn(queue, f"{APP}:app", {"WORKER_GRACEFUL_SHUTDOWN_SECONDS": "30"})
    worker.wait_state("ready")

    async def scenario() -> None:
        client = await Client.connect(temporal_server.address)
        await _start(client, queue, [SlowRequest("stuck", 20.0, heartbeat=True)])
        await asyncio.to_thread(_wait_for_starts, slow_log, 1)

    asyncio.run(scenario())
    worker.signal(signal.SIGTERM)
    worker.wait_state("draining", timeout=5)
    sent = time.monotonic()
    worker.signal(signal.SIGTERM)
    assert worker.wait_exit(5) == 128 + signal.SIGTERM
    assert time.monotonic() - sent < 2
