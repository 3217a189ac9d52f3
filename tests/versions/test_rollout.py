"""Rollouts against a real dev server with real worker processes (two per build).

What runs where is read from the workflows themselves: each returns the build ids of the workers
that ran its activities (`tests/apps/versioned_app.py`).
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from temporalio.client import Client, WorkflowHandle

from infra.versions import temporal_api as api
from infra.versions.rollout import RolloutError, RolloutResult, promote, retire
from infra.versions.rollout import _with_token as with_token
from tests.versions.conftest import POLLER_HISTORY_SECONDS, Fleet, run

pytestmark = pytest.mark.worker


async def _start(client: Client, fleet: Fleet, workflow: str) -> WorkflowHandle[object, object]:
    return await client.start_workflow(
        workflow, id=f"{workflow}-{uuid.uuid4().hex[:8]}", task_queue=fleet.queue
    )


async def _first_activity_ran(handle: WorkflowHandle[object, object]) -> None:
    """Wait until the workflow's first activity completed (so it is pinned / placed)."""
    for _ in range(200):
        history = await handle.fetch_history()
        if any(e.HasField("activity_task_completed_event_attributes") for e in history.events):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{handle.id}: first activity never completed")


async def _finish(handle: WorkflowHandle[object, object]) -> list[str]:
    await handle.signal("finish")
    result = await asyncio.wait_for(handle.result(), timeout=60)
    assert isinstance(result, list)
    return [str(build) for build in result]


async def _deploy_first(client: Client, fleet: Fleet, build: str) -> None:
    fleet.start(build)
    result = await promote(client, fleet.request(build))
    assert result.current == build


def test_first_deploy_promotes_directly_and_work_runs(fleet: Fleet) -> None:
    async def scenario() -> None:
        client = await fleet.client()
        assert await api.describe(client, fleet.deployment) is None
        fleet.start("a")
        result = await promote(client, fleet.request("a", strategy="manual"))
        assert result.current == "a"  # no current version: even manual promotes the first build
        snap = await api.describe(client, fleet.deployment)
        assert snap is not None and snap.manager == "pulumi/test" and snap.routing_complete
        handle = await _start(client, fleet, "AutoHold")
        assert await _finish(handle) == ["a", "a"]

    run(scenario())


def test_a_to_b_pinned_finish_on_a_auto_and_new_starts_move_to_b(fleet: Fleet) -> None:
    async def scenario() -> None:
        client = await fleet.client()
        await _deploy_first(client, fleet, "a")
        pinned = await _start(client, fleet, "PinnedHold")
        auto = await _start(client, fleet, "AutoHold")
        await _first_activity_ran(pinned)
        await _first_activity_ran(auto)
        fleet.start("b")
        began = time.monotonic()
        result = await promote(client, fleet.request("b"))
        print(f"A->B promoted in {time.monotonic() - began:.1f}s: {result.events}")
        assert result.current == "b"
        snap = await api.describe(client, fleet.deployment)
        assert snap is not None and snap.status_of("a") == "draining"
        fresh = await _start(client, fleet, "AutoHold")
        assert await _finish(pinned) == ["a", "a"]
        assert await _finish(auto) == ["a", "b"]
        assert await _finish(fresh) == ["b", "b"]
        for _ in range(60):  # DRAINED once no pinned workflow runs on A (5 s grace here)
            snap = await api.describe(client, fleet.deployment)
            if snap is not None and snap.status_of("a") == "drained":
                break
            await asyncio.sleep(0.5)
        assert snap is not None and snap.status_of("a") == "drained"
        assert snap.versions["a"].drained_since is not None

    run(scenario())


def test_progressive_splits_new_work_then_makes_b_current(fleet: Fleet) -> None:
    async def scenario() -> None:
        client = await fleet.client()
        await _deploy_first(client, fleet, "a")
        fleet.start("b")
        rollout = asyncio.create_task(
            promote(client, fleet.request("b", strategy="progressive", ramp_steps=((50, 8),)))
        )
        for _ in range(200):
            snap = await api.describe(client, fleet.deployment)
            if snap is not None and snap.ramping == "b" and snap.routing_complete:
                break
            await asyncio.sleep(0.3)
        assert snap is not None and snap.ramping == "b" and snap.ramp_percent == 50
        handles = [await _start(client, fleet, "AutoHold") for _ in range(16)]
        builds = [(await _finish(handle))[0] for handle in handles]
        print(f"50% ramp: {builds.count('a')} on a, {builds.count('b')} on b")
        assert builds.count("a") > 0 and builds.count("b") > 0
        result = await rollout
        assert result.current == "b" and result.ramping is None
        assert result.events == ["ramping b at 50%", "current -> b"]

    run(scenario())


def test_build_missing_a_queue_type_is_not_promoted(fleet: Fleet) -> None:
    async def scenario() -> None:
        client = await fleet.client()
        await _deploy_first(client, fleet, "a")
        fleet.start("b", app="workflow_only")
        with pytest.raises(RolloutError) as err:
            await promote(client, fleet.request("b", pollers_timeout=8.0))
        message = str(err.value)
        assert "\n" not in message
        assert f"{fleet.queue}/activity (0 of 2)" in message
        assert "routing unchanged (current stays a)" in message
        snap = await api.describe(client, fleet.deployment)
        assert snap is not None and snap.current == "a" and snap.ramping is None

    run(scenario())


def test_one_live_poller_is_not_enough(fleet: Fleet) -> None:
    async def scenario() -> None:
        client = await fleet.client()
        await _deploy_first(client, fleet, "a")
        fleet.start("b", count=1)
        with pytest.raises(RolloutError, match=r"/workflow \(1 of 2\)"):
            await promote(client, fleet.request("b", pollers_timeout=6.0))

    run(scenario())


def test_stale_conflict_token_is_retried(fleet: Fleet) -> None:
    async def scenario() -> None:
        client = await fleet.client()
        await _deploy_first(client, fleet, "a")
        fleet.start("b")
        await promote(client, fleet.request("b", strategy="manual"))
        stale = (await api.describe(client, fleet.deployment)).conflict_token  # type: ignore[union-attr]
        await api.set_ramping(client, fleet.deployment, "b", 10.0, "pulumi/test", stale)
        calls: list[bytes] = []

        async def set_current(token: bytes) -> bytes:
            calls.append(token)
            used = stale if len(calls) == 1 else token  # first try: a token from before the ramp
            return await api.set_current(client, fleet.deployment, "b", "pulumi/test", used)

        await with_token(client, fleet.request("b"), set_current)
        assert len(calls) == 2
        snap = await api.describe(client, fleet.deployment)
        assert snap is not None and snap.current == "b"

    run(scenario())


def test_another_manager_is_respected(fleet: Fleet) -> None:
    async def scenario() -> None:
        client = await fleet.client()
        await _deploy_first(client, fleet, "a")
        fleet.start("b")
        with pytest.raises(RolloutError, match="managed by 'pulumi/test', not 'someone-else'"):
            await promote(client, fleet.request("b", identity="someone-else"))
        snap = await api.describe(client, fleet.deployment)
        assert snap is not None and snap.current == "a"

    run(scenario())


def test_rollback_to_a_previous_build_is_immediate(fleet: Fleet) -> None:
    async def scenario() -> None:
        client = await fleet.client()
        await _deploy_first(client, fleet, "a")
        fleet.start("b")
        await promote(client, fleet.request("b"))
        began = time.monotonic()
        # Progressive with a long pause: a rollback must not ramp.
        result = await promote(
            client, fleet.request("a", strategy="progressive", ramp_steps=((10, 600),))
        )
        assert result.current == "a" and result.events == ["current -> a"]
        assert time.monotonic() - began < 60

    run(scenario())


def test_full_sunset_deletes_the_drained_version_once_its_pollers_are_gone(fleet: Fleet) -> None:
    async def scenario() -> None:
        client = await fleet.client()
        await _deploy_first(client, fleet, "a")
        fleet.start("b")
        await promote(client, fleet.request("b"))
        with pytest.raises(RolloutError, match="refused to delete version a"):
            await retire(client, fleet.request("b", retire=("a",)), _result())
        fleet.stop("a")  # scaled to 0
        stopped = time.monotonic()
        deadline = stopped + POLLER_HISTORY_SECONDS + 60
        while True:
            try:
                await retire(client, fleet.request("b", retire=("a",)), _result())
                break
            except RolloutError as err:
                assert "active pollers" in str(err) or "drain" in str(err), err
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(5)
        print(f"version a deleted {time.monotonic() - stopped:.0f}s after its workers stopped")
        snap = await api.describe(client, fleet.deployment)
        assert snap is not None and "a" not in snap.versions and snap.current == "b"

    run(scenario())


def test_unreachable_temporal_is_one_line() -> None:
    async def scenario() -> None:
        conn = api.ControlConnection(address="127.0.0.1:1", namespace="default")
        with pytest.raises(ConnectionError) as err:
            await api.connect(conn, timeout=2)
        assert str(err.value).startswith("cannot reach Temporal at 127.0.0.1:1: ")
        assert "\n" not in str(err.value)

    run(scenario())


def _result() -> RolloutResult:
    return RolloutResult()


def test_gate_workflow_runs_pinned_to_the_new_build_before_promotion(fleet: Fleet) -> None:
    async def scenario() -> None:
        client = await fleet.client()
        await _deploy_first(client, fleet, "a")
        fleet.start("b")
        result = await promote(client, fleet.request("b", gate_workflow="Check"))
        assert result.current == "b"
        gate = client.get_workflow_handle(f"gate-{fleet.deployment}-b")
        assert await gate.result() == "b"  # it ran on b while a was still current

    run(scenario())


def test_a_gate_that_does_not_complete_blocks_promotion(fleet: Fleet) -> None:
    async def scenario() -> None:
        client = await fleet.client()
        await _deploy_first(client, fleet, "a")
        fleet.start("b")
        request = fleet.request("b", gate_workflow="NoSuchWorkflow", gate_timeout=5.0)
        with pytest.raises(RolloutError, match=r"gate workflow NoSuchWorkflow .* did not complete"):
            await promote(client, request)
        snap = await api.describe(client, fleet.deployment)
        assert snap is not None and snap.current == "a"

    run(scenario())
