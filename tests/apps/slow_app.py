"""A user app for tests: activities of a chosen length that record every attempt.

Every start, finish and cancellation is appended as a JSON line to `$SLOW_APP_LOG`, so tests can
prove each activity ran exactly once (or was retried elsewhere).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

from workerkit import WorkerApp


@dataclass
class SlowRequest:
    """One activity to run: its name, length, queue, and whether it heartbeats."""

    name: str
    seconds: float
    activity_queue: str = ""
    heartbeat: bool = False


def _record(event: str, name: str) -> None:
    entry = {
        "event": event,
        "name": name,
        "attempt": activity.info().attempt,
        "pid": os.getpid(),
        "ts": time.time(),
    }
    with open(os.environ["SLOW_APP_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")


@activity.defn
async def slow(req: SlowRequest) -> str:
    """Sleep for req.seconds (heartbeating if asked) and record start and finish."""
    _record("start", req.name)
    try:
        steps = max(int(req.seconds / 0.2), 1)
        for _ in range(steps):
            await asyncio.sleep(req.seconds / steps)
            if req.heartbeat:
                activity.heartbeat()
    except asyncio.CancelledError:
        _record("cancelled", req.name)
        raise
    _record("done", req.name)
    return req.name


@workflow.defn
class SlowWorkflow:
    """Runs one `slow` activity, retried quickly if it fails."""

    @workflow.run
    async def run(self, req: SlowRequest) -> str:
        """Return the activity's result."""
        return await workflow.execute_activity(
            slow,
            req,
            task_queue=req.activity_queue or None,
            start_to_close_timeout=timedelta(seconds=120),
            heartbeat_timeout=timedelta(seconds=2) if req.heartbeat else None,
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=200), backoff_coefficient=1.0
            ),
        )


app = WorkerApp(workflows=[SlowWorkflow], activities=[slow])
workflows_only = WorkerApp(workflows=[SlowWorkflow], activities=[])
activities_only = WorkerApp(workflows=[], activities=[slow])
not_an_app = object()
empty = WorkerApp()


def read_log(path: str) -> list[dict[str, Any]]:
    """The recorded events, in order."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as log:
        return [json.loads(line) for line in log if line.strip()]
