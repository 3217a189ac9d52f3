"""Worker containers of the image, hardened like pods, against the dev server on the host."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from orders_app.blobs import FileBlobStore
from orders_app.client import SAMPLE_ITEMS, place_order, store_items
from orders_app.models import ORDERS_QUEUE, OrderInput, OrderResult
from orders_app.workflows import OrderWorkflow
from tests.image.conftest import StartContainer
from tests.support.docker_engine import DockerEngine
from tests.support.temporal_dev import DevServer
from tests.support.worker_containers import WorkerContainer, shared_dir

pytestmark = pytest.mark.image

QUEUES = ("orders", "billing", "shipments")
BLOBS = "/blobs"
ITEM_COUNT = sum(item.quantity for item in SAMPLE_ITEMS)
TOTAL_CENTS = sum(item.quantity * item.unit_price_cents for item in SAMPLE_ITEMS)


def _start_queues(
    start: StartContainer, blob_dir: Path, graceful: float = 30.0
) -> dict[str, WorkerContainer]:
    """One container per sample queue, sharing the claim-check directory (read-only)."""
    settings = {
        "ORDERS_BLOB_DIR": BLOBS,
        "WORKER_GRACEFUL_SHUTDOWN_SECONDS": str(graceful),
    }
    containers = {q: start(q, settings=settings, mounts={str(blob_dir): BLOBS}) for q in QUEUES}
    for container in containers.values():
        container.wait_state("ready", timeout=90)
    return containers


async def _activity_events(client: Client, workflow_id: str) -> Counter[str]:
    """How often each activity event type occurs in the workflow's history."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return Counter(
        EventType.Name(e.event_type)
        for e in history.events
        if "ACTIVITY_TASK" in EventType.Name(e.event_type)
    )


async def _activity_attempts(client: Client, workflow_id: str) -> list[int]:
    """The attempt number of every started activity in the workflow's history."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]


def test_container_runs_non_root_on_read_only_root_with_tmpfs_tmp(
    docker_engine: DockerEngine, start_container: StartContainer
) -> None:
    container = start_container("orders")
    container.wait_state("ready", timeout=90)
    host_config = docker_engine.inspect(container.name, kind="container")["HostConfig"]
    assert host_config["ReadonlyRootfs"] is True
    assert "/tmp" in host_config["Tmpfs"]
    probe = (
        "import os, errno\n"
        "print(os.getuid(), os.getgid())\n"
        "print(open('/proc/1/cmdline').read().replace(chr(0), ' ').strip())\n"
        "for path in ('/app/probe', '/probe', '/app/src/workerkit/probe'):\n"
        "    try:\n"
        "        open(path, 'w').close()\n"
        "        print('writable', path)\n"
        "    except OSError as err:\n"
        "        print('refused', path, errno.errorcode[err.errno])\n"
        "open('/tmp/probe', 'w').write('ok')\n"
        "print('tmp', open('/tmp/probe').read())\n"
    )
    code, out = container.exec("python", "-c", probe)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "10001 10001"
    # PID 1 is the worker itself (exec-form entrypoint, no shell in between).
    assert lines[1] == "python -m workerkit"
    assert lines[2:5] == [
        "refused /app/probe EROFS",
        "refused /probe EROFS",
        "refused /app/src/workerkit/probe EROFS",
    ]
    assert lines[5] == "tmp ok"
    status, body = container.get("/readyz")
    assert (status, body["state"]) == (200, "ready")


def test_prestop_drain_command_drains_the_container_worker(start_container: StartContainer) -> None:
    """The Kubernetes preStop hook's command, run as the kubelet runs it (exec, any cwd)."""
    container = start_container("billing", settings={"WORKER_GRACEFUL_SHUTDOWN_SECONDS": "20"})
    container.wait_state("ready", timeout=90)
    code, out = container.exec("python", "-m", "workerkit", "drain", workdir="/")
    assert "drain: requested; budget 20s" in out, out
    # The drained worker waits for the kubelet's SIGTERM, so the hook sees the drain finish.
    assert code == 0, (code, out)
    assert "drain: worker drained" in out, out
    # Without a SIGTERM it still exits 0 on its own shortly after.
    assert container.wait_exit(timeout=30) == 0, container.logs()
    drained = [r for r in container.log_records() if r.get("msg") == "drained"]
    assert len(drained) == 1 and drained[0].get("task_queue") == "billing"
    draining = next(r for r in container.log_records() if r.get("msg") == "draining")
    assert draining["reason"] == "POST /drain"


def test_order_completes_across_three_queue_containers(
    temporal_server: DevServer, image_namespace: str, start_container: StartContainer
) -> None:
    with shared_dir("twk-blobs-") as blob_dir:
        containers = _start_queues(start_container, blob_dir)
        order_id = f"img-{uuid.uuid4().hex[:8]}"

        async def scenario() -> OrderResult:
            client = await Client.connect(temporal_server.address, namespace=image_namespace)
            return await asyncio.wait_for(
                place_order(client, order_id, SAMPLE_ITEMS, FileBlobStore(blob_dir), 0.5), 90
            )

        result = asyncio.run(scenario())
    assert result.status == "completed"
    assert result.total_cents == TOTAL_CENTS
    assert result.payment_id.startswith("pay-")
    assert result.tracking_number == f"TRK-{order_id.upper()}"
    # Every queue's container did its share (nothing else polls these queues in this test).
    for queue, container in containers.items():
        status = container.get("/status")[1]
        assert status["task_queue"] == queue
        assert status["completed_activities"] >= 1, (queue, status, container.logs())


def test_docker_stop_drains_in_flight_activities_exactly_once(
    temporal_server: DevServer, image_namespace: str, start_container: StartContainer
) -> None:
    orders_count = 4
    ship_seconds = 8.0
    graceful = 30.0
    with shared_dir("twk-blobs-") as blob_dir:
        containers = _start_queues(start_container, blob_dir, graceful)
        shipments = containers["shipments"]
        prefix = f"drain-{uuid.uuid4().hex[:6]}"
        order_ids = [f"{prefix}-{i}" for i in range(orders_count)]

        async def start_orders(client: Client) -> list[WorkflowHandle[OrderWorkflow, OrderResult]]:
            key = store_items(SAMPLE_ITEMS, FileBlobStore(blob_dir))
            return [
                await client.start_workflow(
                    OrderWorkflow.run,
                    OrderInput(order_id, "customer-1", key, ship_seconds),
                    id=f"order-{order_id}",
                    task_queue=ORDERS_QUEUE,
                )
                for order_id in order_ids
            ]

        def wait_in_flight(count: int, timeout: float = 60) -> None:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if shipments.get("/status")[1].get("in_flight_activities", 0) >= count:
                    return
                time.sleep(0.05)
            raise AssertionError(f"not {count} in flight: {shipments.get('/status')[1]}")

        async def scenario() -> tuple[float, list[OrderResult], WorkerContainer]:
            client = await Client.connect(temporal_server.address, namespace=image_namespace)
            handles = await start_orders(client)
            await asyncio.to_thread(wait_in_flight, orders_count)
            # docker stop sends SIGTERM to PID 1 (the worker) and waits up to --time seconds.
            took = await asyncio.to_thread(shipments.stop, int(graceful + 15))
            # The workflows still need a shipments worker to finish: a replacement, as in a
            # rolling update.
            replacement = start_container(
                "shipments",
                settings={"ORDERS_BLOB_DIR": BLOBS},
                mounts={str(blob_dir): BLOBS},
            )
            results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 120)
            return took, list(results), replacement

        took, results, replacement = asyncio.run(scenario())

        state = shipments.state()
        assert state["Running"] is False
        assert state["ExitCode"] == 0, shipments.logs()
        assert state["OOMKilled"] is False
        # Drained within the budget, well before docker's SIGKILL deadline.
        assert took < graceful + 5, took
        # The packing activities needed ~ship_seconds: they really were in flight at the stop.
        assert took >= 1.0, took
        messages = [r.get("msg") for r in shipments.log_records()]
        assert "draining" in messages and "drained" in messages, shipments.logs()
        drained = next(r for r in shipments.log_records() if r.get("msg") == "drained")
        assert drained["completed_activities"] == orders_count, drained
        assert sorted(r.order_id for r in results) == sorted(order_ids)
        assert {r.status for r in results} == {"completed"}

        async def histories() -> list[tuple[Counter[str], list[int]]]:
            client = await Client.connect(temporal_server.address, namespace=image_namespace)
            return [
                (
                    await _activity_events(client, f"{order_id}-shipment"),
                    await _activity_attempts(client, f"{order_id}-shipment"),
                )
                for order_id in order_ids
            ]

        for events, attempts in asyncio.run(histories()):
            # Each packing activity ran once, on the stopped container, and completed: no retry,
            # no timeout, no failure, no cancellation.
            assert events == Counter(
                {
                    "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED": 1,
                    "EVENT_TYPE_ACTIVITY_TASK_STARTED": 1,
                    "EVENT_TYPE_ACTIVITY_TASK_COMPLETED": 1,
                }
            ), events
            assert attempts == [1]
        assert replacement.get("/status")[1]["completed_activities"] == 0
