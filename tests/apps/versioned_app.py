"""A user app for versioned-rollout tests: workflows that report which build ran them.

`Hold` waits for a `finish` signal (so it is in flight during a rollout) and returns the build ids
of the workers that ran its two activities, one before and one after the signal. `PinnedHold` is
PINNED, `AutoHold` AUTO_UPGRADE; `Check` is the gate workflow. `workflow_only` registers no
activities (a build missing the activity pollers its predecessor had).
"""

from __future__ import annotations

import os
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import VersioningBehavior

from workerkit import WorkerApp


@activity.defn
async def whoami() -> str:
    """The build id of the worker running this activity (from the pod's env)."""
    return os.environ.get("TEMPORAL_WORKER_BUILD_ID", "unversioned")


class _Hold:
    def __init__(self) -> None:
        self.finished = False

    @workflow.signal
    def finish(self) -> None:
        """Let the workflow complete."""
        self.finished = True

    async def _run(self) -> list[str]:
        timeout = timedelta(seconds=30)
        first = await workflow.execute_activity(whoami, start_to_close_timeout=timeout)
        await workflow.wait_condition(lambda: self.finished)
        second = await workflow.execute_activity(whoami, start_to_close_timeout=timeout)
        return [first, second]


@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class PinnedHold(_Hold):
    """Pinned: every task runs on the build that started it."""

    @workflow.run
    async def run(self) -> list[str]:
        """Builds of the activity before and after `finish`."""
        return await self._run()


@workflow.defn(versioning_behavior=VersioningBehavior.AUTO_UPGRADE)
class AutoHold(_Hold):
    """Auto-upgrade: moves to the current build at its next task."""

    @workflow.run
    async def run(self) -> list[str]:
        """Builds of the activity before and after `finish`."""
        return await self._run()


@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class Check:
    """The gate: one activity on the build under test."""

    @workflow.run
    async def run(self) -> str:
        """The build that ran the activity."""
        return await workflow.execute_activity(whoami, start_to_close_timeout=timedelta(seconds=30))


full = WorkerApp(workflows=[PinnedHold, AutoHold, Check], activities=[whoami])
workflow_only = WorkerApp(workflows=[PinnedHold, AutoHold, Check], activities=[])
