"""The sample orders app across its three queues, each served by its own worker process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError

from orders_app.blobs import FileBlobStore
from orders_app.client import SAMPLE_ITEMS, place_order
from orders_app.models import TrackingState
from orders_app.workflows import TrackingWorkflow
from tests.support.temporal_dev import DevServer
from tests.worker.conftest import StartWorker

pytestmark = pytest.mark.worker


async def _activity_queues(client: Client, workflow_id: str) -> set[str]:
    """The task queues the workflow's activities were scheduled on."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return {
        e.activity_task_scheduled_event_attributes.task_queue.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }


def test_order_runs_across_three_queues(
    temporal_server: DevServer, spawn: StartWorker, tmp_path: Path
) -> None:
    workers = {q: spawn(q, f"orders_app.queues:{q}") for q in ("orders", "billing", "shipments")}
    for worker in workers.values():
        worker.wait_state("ready")

    async def scenario() -> None:
        client = await Client.connect(temporal_server.address)
        store = FileBlobStore(tmp_path / "blobs")
        result = await place_order(client, "flow-1", SAMPLE_ITEMS, store, ship_seconds=1.0)
        assert result.status == "completed"
        assert result.total_cents == 3999 + 4 * 899
        assert result.payment_id.startswith("pay-")
        assert result.tracking_number == "TRK-FLOW-1"
        assert await _activity_queues(client, "order-flow-1") == {"orders"}
        assert await _activity_queues(client, "flow-1-payment") == {"billing"}
        assert await _activity_queues(client, "flow-1-shipment") == {"shipments"}

    asyncio.run(scenario())
    for queue, worker in workers.items():
        status = worker.get("/status")[1]
        assert status["completed_activities"] >= 1, (queue, status)


def test_claim_check_keeps_line_items_out_of_history(
    temporal_server: DevServer, spawn: StartWorker, tmp_path: Path
) -> None:
    for q in ("orders", "billing", "shipments"):
        spawn(q, f"orders_app.queues:{q}").wait_state("ready")

    async def scenario() -> None:
        client = await Client.connect(temporal_server.address)
        store = FileBlobStore(tmp_path / "blobs", inline_max_bytes=0)
        await place_order(client, "claim-1", SAMPLE_ITEMS, store)
        history = await client.get_workflow_handle("order-claim-1").fetch_history()
        raw = history.to_json()
        assert "sku-kettle" not in raw  # only the key travels through Temporal
        assert any(p.name for p in (tmp_path / "blobs").iterdir())

    asyncio.run(scenario())


async def _until_recorded(
    handle: WorkflowHandle[TrackingWorkflow, TrackingState], count: int, timeout: float = 30.0
) -> None:
    """Wait until the latest run reports `count` recorded events (queries between runs retry)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            if await handle.query(TrackingWorkflow.recorded) >= count:
                return
        except WorkflowQueryFailedError:
            pass  # asked while one run handed over to the next
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"tracking never recorded {count} events")
        await asyncio.sleep(0.1)


def test_tracking_workflow_continues_as_new(temporal_server: DevServer, spawn: StartWorker) -> None:
    spawn("shipments", "orders_app.queues:shipments").wait_state("ready")

    async def scenario() -> None:
        client = await Client.connect(temporal_server.address)
        handle = await client.start_workflow(
            TrackingWorkflow.run,
            TrackingState("track-1", continue_after=2),
            id="tracking-track-1",
            task_queue="shipments",
        )
        events = ["picked", "packed", "left-depot", "in-transit", "out-for-delivery", "delivered"]
        latest = client.get_workflow_handle_for(TrackingWorkflow.run, "tracking-track-1")
        for count, event in enumerate(events[:-1], start=1):
            await handle.signal(TrackingWorkflow.tracking_event, event)
            # The next event only once this one is recorded: the run then continues as new
            # exactly after every `continue_after` events, however loaded the machine is.
            await _until_recorded(latest, count)
        await handle.signal(TrackingWorkflow.tracking_event, events[-1])
        final = await client.get_workflow_handle_for(
            TrackingWorkflow.run, "tracking-track-1"
        ).result()
        assert final.events == events
        assert final.runs == 3  # continued as new after events 2 and 4

    asyncio.run(scenario())
