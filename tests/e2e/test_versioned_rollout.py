"""A versioned rollout driven by the CI commands (`make promote`, `make deploy`) with the real CLI.

staging's stack file (versioned), its pulumi routing through a local dev server; the pods run on
kwok, so the pollers each build needs come from host workers started with exactly the env the
program renders for that build (tests/support/versioned_workers.py). Steps: first build promoted;
a second digest becomes current while the first keeps its Deployment and autoscaler (draining);
`status` shows both; once Temporal reports the first drained, `make deploy` (the hourly sunset
workflow's command) scales it to 0 and drops its HPA; with Temporal unreachable `make deploy`
fails with one line and changes nothing; promoting the first digest again is a rollback; the
second build's sunset then runs to the end (version deleted in Temporal, Deployments removed).
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.client import Client

from infra.names import SCALED_DOWN_ANNOTATION
from infra.versions import temporal_api as api
from infra.versions.build_id import from_digest
from tests.e2e.helpers import Engine, assert_quiet_engine_run
from tests.e2e.stack_support import (
    api_items,
    local_rollout_control,
    make_project,
    run_make,
    wait_nothing_ours,
)
from tests.support.ci_commands import DEPLOY, PROMOTE, argv
from tests.support.temporal_dev import SHORT_POLLER_HISTORY_SECONDS, DevServer
from tests.support.versioned_workers import build_pollers, settings_of_config

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3600)]

STACK, NAMESPACE = "staging", "temporal-workers-staging"
QUEUES = ("orders", "billing", "shipments")
REPOSITORY = "registry.invalid/temporal-workers/worker"


def _ref() -> str:
    return f"{REPOSITORY}@sha256:{hashlib.sha256(uuid.uuid4().bytes).hexdigest()}"


def _describe(server: DevServer, namespace: str, deployment: str) -> api.DeploymentSnapshot:
    async def read() -> api.DeploymentSnapshot:
        client = await Client.connect(server.address, namespace=namespace)
        snap = await api.describe(client, deployment)
        assert snap is not None, deployment
        return snap

    return asyncio.run(read())


def _wait_drained(server: DevServer, namespace: str, deployment: str, build: str) -> None:
    deadline = time.monotonic() + 60
    while _describe(server, namespace, deployment).status_of(build) != "drained":
        assert time.monotonic() < deadline, f"build {build} never reported drained"
        time.sleep(1)


def _deployments(engine: Engine) -> dict[str, dict[str, Any]]:
    items = api_items(engine.cluster, f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments")
    return {d["metadata"]["name"]: d for d in items}


def _hpa_targets(engine: Engine) -> set[str]:
    path = f"/apis/autoscaling/v2/namespaces/{NAMESPACE}/horizontalpodautoscalers"
    return {h["spec"]["scaleTargetRef"]["name"] for h in api_items(engine.cluster, path)}


def _names(build: str) -> set[str]:
    return {f"{queue}-worker-{build}" for queue in QUEUES}


def test_rollout_sunset_and_rollback_through_the_ci_commands(
    engine: Engine, rollout_temporal: DevServer, tmp_path: Path
) -> None:
    edit = local_rollout_control(
        rollout_temporal,
        isolate=uuid.uuid4().hex[:8],
        timeouts={"pollersSeconds": 120},
        sunset={"scaledownDelaySeconds": 0},
    )
    project = make_project(tmp_path / "project", STACK, edit)
    config = yaml.safe_load((project / f"Pulumi.{STACK}.yaml").read_text())["config"]
    settings = settings_of_config(config, STACK)
    temporal_ns = settings.temporal.namespace
    orders = next(q for q in settings.queues if q.task_queue == "orders").deployment_name
    code, out = run_make(engine, project, ["pulumi", "stack", "init", STACK, "--non-interactive"])
    assert code == 0, out
    ref_a, ref_b = _ref(), _ref()
    build_a, build_b = from_digest(ref_a), from_digest(ref_b)
    workers = tmp_path / "workers"
    try:
        with build_pollers(settings, rollout_temporal, build_a, workers):
            began = time.monotonic()
            code, out = run_make(engine, project, argv(PROMOTE, stack=STACK, image_ref=ref_a))
            assert code == 0, out[-6000:]
            assert_quiet_engine_run(out)
            print(f"first up (build {build_a}): {time.monotonic() - began:.1f}s")
            assert set(_deployments(engine)) == _names(build_a)
            assert _describe(rollout_temporal, temporal_ns, orders).current == build_a

            with build_pollers(settings, rollout_temporal, build_b, workers):
                began = time.monotonic()
                code, out = run_make(engine, project, argv(PROMOTE, stack=STACK, image_ref=ref_b))
                assert code == 0, out[-6000:]
                print(f"A->B up: {time.monotonic() - began:.1f}s")
                snap = _describe(rollout_temporal, temporal_ns, orders)
                assert snap.current == build_b
                assert snap.status_of(build_a) in ("draining", "drained")
                assert set(_deployments(engine)) == _names(build_a) | _names(build_b)
                assert _hpa_targets(engine) == _names(build_a) | _names(build_b)

                status = subprocess.run(
                    [sys.executable, "-m", "infra.versions", "status", "--stack", STACK],
                    cwd=project,
                    env={**engine.env, "PYTHONPATH": str(project)},
                    capture_output=True,
                    text=True,
                    check=False,
                )
                print(status.stdout)
                assert status.returncode == 0, status.stderr
                lines = status.stdout.splitlines()
                assert any(build_b in line and " current " in line for line in lines)
                assert any(build_a in line and "activity=2 workflow=2" in line for line in lines)

                _wait_drained(rollout_temporal, temporal_ns, orders, build_a)
                code, out = run_make(engine, project, argv(DEPLOY, stack=STACK))
                assert code == 0, out[-6000:]
                deployments = _deployments(engine)
                for name in _names(build_a):
                    assert deployments[name]["spec"]["replicas"] == 0, name
                assert _hpa_targets(engine) == _names(build_b)

                stack_file = project / f"Pulumi.{STACK}.yaml"
                reachable = stack_file.read_text()
                data = yaml.safe_load(reachable)
                data["config"]["temporal-workers:versioning"]["controlAddress"] = "127.0.0.1:1"
                stack_file.write_text(yaml.safe_dump(data, sort_keys=False))
                before = _deployments(engine)
                code, out = run_make(engine, project, argv(DEPLOY, stack=STACK))
                assert code != 0
                errors = [line for line in out.splitlines() if "versioning: cannot read" in line]
                assert any(
                    line.strip().endswith(
                        "versioning: cannot read the Worker Deployments at 127.0.0.1:1: cannot "
                        "reach Temporal at 127.0.0.1:1: connection refused; nothing was changed"
                    )
                    for line in errors
                ), out[-3000:]
                assert _deployments(engine).keys() == before.keys()
                stack_file.write_text(reachable)
            b_stopped = time.monotonic()  # build B's workers are gone from here on

            code, out = run_make(engine, project, argv(PROMOTE, stack=STACK, image_ref=ref_a))
            assert code == 0, out[-6000:]
            assert _describe(rollout_temporal, temporal_ns, orders).current == build_a
            assert _names(build_a) <= _hpa_targets(engine)
            deadline = time.monotonic() + 90  # back from 0: its HPA raises it to minReplicas
            while any(
                _deployments(engine)[name]["spec"].get("replicas", 1) < 2
                for name in _names(build_a)
            ):
                assert time.monotonic() < deadline, "rolled-back build not back at 2 replicas"
                time.sleep(1)

            # B's sunset to the end: drained -> 0 replicas -> version deleted -> Deployment gone.
            _wait_drained(rollout_temporal, temporal_ns, orders, build_b)
            code, out = run_make(engine, project, argv(DEPLOY, stack=STACK))
            assert code == 0, out[-6000:]
            assert all(_deployments(engine)[n]["spec"]["replicas"] == 0 for n in _names(build_b))
            # Temporal refuses to delete a version that polled within PollerHistoryTTL (75 s on
            # this dev server); the delete delay runs from the scaled-down-at annotation, which
            # the test moves two days back instead of waiting for it.
            time.sleep(max(0.0, SHORT_POLLER_HISTORY_SECONDS + 5 - (time.monotonic() - b_stopped)))
            stamp = (datetime.now(UTC) - timedelta(days=2)).isoformat()
            for name in _names(build_b):
                subprocess.run(
                    ["kubectl", "annotate", "--overwrite", "-n", NAMESPACE, f"deployment/{name}",
                     f"{SCALED_DOWN_ANNOTATION}={stamp}"],
                    env=engine.env, check=True, capture_output=True,
                )  # fmt: skip
            code, out = run_make(engine, project, argv(DEPLOY, stack=STACK))
            assert code == 0, out[-6000:]
            assert set(_deployments(engine)) == _names(build_a)
            snap = _describe(rollout_temporal, temporal_ns, orders)
            assert build_b not in snap.versions and snap.current == build_a
    finally:
        run_make(
            engine, project, ["pulumi", "destroy", "--yes", "--stack", STACK, "--non-interactive"]
        )
        run_make(
            engine,
            project,
            ["pulumi", "stack", "rm", "--yes", "--stack", STACK, "--non-interactive"],
        )
    wait_nothing_ours(engine.cluster, NAMESPACE)


def test_switching_versioning_on_keeps_the_unversioned_workers_until_they_are_idle(
    engine: Engine, rollout_temporal: DevServer, tmp_path: Path
) -> None:
    """An unversioned queue switched to versioning: its Deployment stays until the new build is
    current and no task waits for unversioned workers, then the next `make deploy` removes it."""
    isolate = uuid.uuid4().hex[:8]

    def unversioned(config: dict[str, Any]) -> None:
        local_rollout_control(rollout_temporal, isolate=isolate)(config)
        config["temporal-workers:versioning"]["enabled"] = False

    project = make_project(tmp_path / "project", STACK, unversioned)
    stack_file = project / f"Pulumi.{STACK}.yaml"
    code, out = run_make(engine, project, ["pulumi", "stack", "init", STACK, "--non-interactive"])
    assert code == 0, out
    ref = _ref()
    build = from_digest(ref)
    unversioned_names = {f"{queue}-worker" for queue in QUEUES}
    try:
        code, out = run_make(engine, project, argv(PROMOTE, stack=STACK, image_ref=ref))
        assert code == 0, out[-6000:]
        assert set(_deployments(engine)) == unversioned_names

        data = yaml.safe_load(stack_file.read_text())
        data["config"]["temporal-workers:versioning"]["enabled"] = True
        stack_file.write_text(yaml.safe_dump(data, sort_keys=False))
        settings = settings_of_config(data["config"], STACK)
        with build_pollers(settings, rollout_temporal, build, tmp_path / "workers"):
            code, out = run_make(engine, project, argv(DEPLOY, stack=STACK))
            assert code == 0, out[-6000:]
            assert set(_deployments(engine)) == unversioned_names | _names(build)
            orders = next(q for q in settings.queues if q.task_queue == "orders")
            snap = _describe(rollout_temporal, settings.temporal.namespace, orders.deployment_name)
            assert snap.current == build
            code, out = run_make(engine, project, argv(DEPLOY, stack=STACK))
            assert code == 0, out[-6000:]
            assert set(_deployments(engine)) == _names(build)
    finally:
        for command in (["destroy", "--yes"], ["stack", "rm", "--yes"]):
            run_make(engine, project, ["pulumi", *command, "--stack", STACK, "--non-interactive"])
    wait_nothing_ours(engine.cluster, NAMESPACE)
