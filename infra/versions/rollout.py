"""Promote a new build of one Worker Deployment, then delete the versions the plan retires.

Order (the same as temporal-worker-controller's, with its known failures closed): wait until the
target build has `min_pollers` live pollers on every (queue, type) pair of the current version and
of its own; run the optional gate workflow pinned to it; claim the manager identity; route by
strategy; wait until Temporal reports the routing change propagated; delete retired versions.
A wait that times out raises `RolloutError` (one line) before any routing change.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio.client import Client, WorkflowFailureError
from temporalio.common import (
    PinnedVersioningOverride,
    WorkerDeploymentVersion,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from infra.versions import temporal_api as api

CONFLICT_RETRIES = 5


class RolloutError(Exception):
    """A rollout that cannot go on; the message is one line and routing is as it was."""


@dataclass(frozen=True)
class RolloutRequest:
    """What one `pulumi up` asks of one Worker Deployment."""

    deployment: str
    queue: str
    target: str
    strategy: str = "allAtOnce"  # allAtOnce | progressive | manual
    ramp_steps: tuple[tuple[int, int], ...] = ()  # (percent, pause seconds)
    min_pollers: int = 2
    pollers_timeout: float = 600.0
    routing_timeout: float = 120.0
    identity: str = "pulumi"
    gate_workflow: str | None = None
    gate_timeout: float = 600.0
    retire: tuple[str, ...] = ()
    poll_interval: float = 1.0


@dataclass
class RolloutResult:
    """Where routing ended, and what happened on the way (for the `up` log and outputs)."""

    current: str | None = None
    ramping: str | None = None
    ramp_percent: float = 0.0
    events: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)


def _pairs_text(missing: dict[api.Pair, int], need: int) -> str:
    return ", ".join(f"{q}/{t} ({n} of {need})" for (q, t), n in sorted(missing.items()))


async def wait_for_pollers(
    client: Client, req: RolloutRequest, current: str | None
) -> set[api.Pair]:
    """Block until the target polls with `min_pollers` identities on every required pair.

    Required: every pair the current version has (Temporal refuses SetCurrent otherwise) and every
    pair the target registered itself; at least one pair. Raises RolloutError on timeout.
    """
    deadline = time.monotonic() + req.pollers_timeout
    base: set[api.Pair] = set()
    if current is not None and current != req.target:
        base = await api.version_pairs(client, req.deployment, current)
    while True:
        required = base | await api.version_pairs(client, req.deployment, req.target)
        if not required:
            required = {(req.queue, "workflow")}
        missing: dict[api.Pair, int] = {}
        by_queue: dict[str, set[str]] = {}
        for queue, queue_type in required:
            by_queue.setdefault(queue, set()).add(queue_type)
        for queue, types in by_queue.items():
            seen = await api.live_pollers(client, req.deployment, req.target, queue, types)
            for queue_type in types:
                count = len(seen.get(queue_type, set()))
                if count < req.min_pollers:
                    missing[(queue, queue_type)] = count
        if not missing:
            return required
        if time.monotonic() >= deadline:
            was = f"current stays {current}" if current else "no current version"
            raise RolloutError(
                f"{req.deployment}: build {req.target} not promoted after "
                f"{req.pollers_timeout:.0f}s: (queue/type) pairs short of {req.min_pollers} live "
                f"pollers: {_pairs_text(missing, req.min_pollers)}; routing unchanged ({was})"
            )
        await asyncio.sleep(req.poll_interval)


async def run_gate(client: Client, req: RolloutRequest) -> None:
    """Run the gate workflow pinned to the target; raise RolloutError unless it completes."""
    assert req.gate_workflow is not None
    workflow_id = f"gate-{req.deployment}-{req.target}"
    try:
        handle = await client.start_workflow(
            req.gate_workflow,
            id=workflow_id,
            task_queue=req.queue,
            execution_timeout=timedelta(seconds=req.gate_timeout),
            versioning_override=PinnedVersioningOverride(
                WorkerDeploymentVersion(deployment_name=req.deployment, build_id=req.target)
            ),
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    except WorkflowAlreadyStartedError:
        handle = client.get_workflow_handle(workflow_id)  # completed on an earlier `up`
    try:
        await asyncio.wait_for(handle.result(), timeout=req.gate_timeout)
    except (WorkflowFailureError, TimeoutError) as err:
        cause = getattr(err, "cause", None) or err
        why = str(cause).splitlines()[0] if str(cause) else "timeout"
        raise RolloutError(
            f"{req.deployment}: gate workflow {req.gate_workflow} ({workflow_id}) pinned to build "
            f"{req.target} did not complete: {why}; routing unchanged"
        ) from err


async def _with_token(
    client: Client, req: RolloutRequest, call: Callable[[bytes], Awaitable[bytes]]
) -> None:
    """Run a routing call with the latest conflict token; a stale token re-reads and retries."""
    for attempt in range(CONFLICT_RETRIES):
        snap = await api.describe(client, req.deployment)
        token = snap.conflict_token if snap else b""
        try:
            await call(token)
            return
        except RPCError as err:
            if "conflict token" not in str(err).lower() or attempt == CONFLICT_RETRIES - 1:
                raise RolloutError(
                    f"{req.deployment}: Temporal refused the routing change to build "
                    f"{req.target}: {str(err).splitlines()[0]}"
                ) from err


async def wait_routing(client: Client, req: RolloutRequest) -> api.DeploymentSnapshot:
    """Block until Temporal reports the last routing change propagated to every task queue."""
    deadline = time.monotonic() + req.routing_timeout
    while True:
        snap = await api.describe(client, req.deployment)
        if snap is not None and snap.routing_complete:
            return snap
        if time.monotonic() >= deadline:
            raise RolloutError(
                f"{req.deployment}: routing change to build {req.target} still propagating after "
                f"{req.routing_timeout:.0f}s"
            )
        await asyncio.sleep(req.poll_interval)


async def claim_manager(client: Client, req: RolloutRequest, snap: api.DeploymentSnapshot) -> None:
    """Become the Worker Deployment's manager, or fail if someone else is."""
    if snap.manager == req.identity:
        return
    if snap.manager:
        raise RolloutError(
            f"{req.deployment}: managed by {snap.manager!r}, not {req.identity!r} "
            "(versioning.identity); refusing to change routing"
        )

    async def call(token: bytes) -> bytes:
        return await api.set_manager(client, req.deployment, req.identity, token)

    await _with_token(client, req, call)


async def _set_current(client: Client, req: RolloutRequest, result: RolloutResult) -> None:
    async def call(token: bytes) -> bytes:
        return await api.set_current(client, req.deployment, req.target, req.identity, token)

    await _with_token(client, req, call)
    await wait_routing(client, req)
    result.events.append(f"current -> {req.target}")


async def _ramp(client: Client, req: RolloutRequest, percent: int, result: RolloutResult) -> None:
    async def call(token: bytes) -> bytes:
        return await api.set_ramping(
            client, req.deployment, req.target, float(percent), req.identity, token
        )

    await _with_token(client, req, call)
    await wait_routing(client, req)
    result.events.append(f"ramping {req.target} at {percent}%")


async def promote(client: Client, req: RolloutRequest) -> RolloutResult:
    """Promote `req.target` by strategy (first deploy and rollback: at once) and retire versions."""
    result = RolloutResult()
    snap = await api.describe(client, req.deployment)
    current = snap.current if snap else None
    done = snap is not None and current == req.target and snap.ramping is None
    if not done:
        await wait_for_pollers(client, req, current)
        snap = await api.describe(client, req.deployment)
        assert snap is not None  # the target polls, so the Worker Deployment exists
        current = snap.current
        summary = snap.versions.get(req.target)
        rollback = summary is not None and summary.last_current is not None
        if current is None or rollback:
            # First deploy: without a current version nothing runs. Rollback: the build was
            # current before, its code is proven, and waiting would prolong the incident.
            await _promote_now(client, req, snap, result)
        elif req.strategy == "manual":
            result.events.append(
                f"manual: {req.target} polls; promote it with python -m infra.versions promote"
            )
        elif req.strategy == "progressive":
            await _progressive(client, req, snap, result)
        else:
            await _promote_now(client, req, snap, result)
    await retire(client, req, result)
    final = await api.describe(client, req.deployment)
    if final is not None:
        result.current, result.ramping = final.current, final.ramping
        result.ramp_percent = final.ramp_percent
    return result


async def _promote_now(
    client: Client, req: RolloutRequest, snap: api.DeploymentSnapshot, result: RolloutResult
) -> None:
    if req.gate_workflow:
        await run_gate(client, req)
    await claim_manager(client, req, snap)
    await _set_current(client, req, result)


async def _progressive(
    client: Client, req: RolloutRequest, snap: api.DeploymentSnapshot, result: RolloutResult
) -> None:
    """Ramp step by step inside this `up` (pausing between steps), then make the target current.

    A rerun resumes: steps at or below the target's present ramp are skipped.
    """
    if req.gate_workflow:
        await run_gate(client, req)
    await claim_manager(client, req, snap)
    already = snap.ramp_percent if snap.ramping == req.target else 0.0
    for percent, pause in req.ramp_steps:
        if percent <= already:
            continue
        await _ramp(client, req, percent, result)
        await asyncio.sleep(pause)
        await wait_for_pollers(client, req, snap.current)  # still healthy before the next step
    await _set_current(client, req, result)


async def retire(client: Client, req: RolloutRequest, result: RolloutResult) -> None:
    """Delete retired versions in Temporal (it refuses any that still drain or polled lately)."""
    for build_id in req.retire:
        if build_id == req.target:
            continue
        try:
            await api.delete_version(client, req.deployment, build_id, req.identity)
        except RPCError as err:
            if "not found" in str(err).lower():
                continue
            raise RolloutError(
                f"{req.deployment}: Temporal refused to delete version {build_id}: "
                f"{str(err).splitlines()[0]}; its Deployment is kept"
            ) from err
        result.retired.append(build_id)
        result.events.append(f"deleted version {build_id}")
