"""Client side of the slow test app: start its workflows, wait for activities, get results."""

from __future__ import annotations

import asyncio
import time

from temporalio.client import Client

from tests.apps.slow_app import SlowRequest, SlowWorkflow, read_log


def start_slow(address: str, queue: str, requests: list[SlowRequest]) -> list[str]:
    """Start one SlowWorkflow per request on `queue`; return the workflow IDs."""

    async def start() -> list[str]:
        client = await Client.connect(address)
        ids = []
        for req in requests:
            handle = await client.start_workflow(
                SlowWorkflow.run, req, id=f"{queue}-{req.name}", task_queue=queue
            )
            ids.append(handle.id)
        return ids

    return asyncio.run(start())


def slow_results(address: str, ids: list[str], timeout: float = 60) -> list[str]:
    """Wait for the workflows and return their results, in order."""

    async def collect() -> list[str]:
        client = await Client.connect(address)
        handles = [client.get_workflow_handle_for(SlowWorkflow.run, i) for i in ids]
        return list(await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), timeout))

    return asyncio.run(collect())


def wait_for_events(log: str, event: str, count: int, timeout: float = 30) -> None:
    """Block until the app recorded at least `count` events of a kind."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(e["event"] == event for e in read_log(log)) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} {event!r} events after {timeout}s: {read_log(log)}")
