"""The policy gate of pull requests, run for real.

``pulumi preview --policy-pack policies --policy-pack-config policies/config/production.json``
passes on every stack file (the kit's program on a copy of each; the two that build the image use
this machine's local base image, wheelhouse and registry). Stacks that would lose Temporal work are
stopped by one of two layers:

* the kit's config validation, before any resource is registered (``minReplicas: 1``, one fixed
  replica, a termination buffer below 10 s); the policy pack never sees these;
* the policy pack's mandatory policies, for objects the kit would never produce, written by hand
  (``programs/handwritten_worker``): one replica and no HPA, an HPA with ``minReplicas: 1``, no
  preStop hook, a grace period shorter than the drain budget.

Each rejection exits non-zero with the responsible message, both for ``preview`` and for
``up --yes``, and nothing is created (checked through the API).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.helpers import PROGRAMS_DIR, Engine
from tests.e2e.stack_support import (
    POLICY_ARGS,
    local_machine_image,
    ours,
)
from tools.pulumi_env import REPO_ROOT

if TYPE_CHECKING:  # the fixtures module is loaded as a plugin, not imported
    from tests.e2e.stack_fixtures import KitFactory

pytest_plugins = ["tests.e2e.stack_fixtures"]  # session fixtures: docker_engine, registry, buildkit
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3600)]

PACK = "temporal-workers@v0.1.0"
POLLERS = "temporal-two-pollers-per-queue"
SHUTDOWN = "temporal-graceful-shutdown"


def _local_edit(engine: Engine, registry: str) -> Callable[[dict[str, Any]], None]:
    image_edit = local_machine_image(registry)

    def edit(config: dict[str, Any]) -> None:
        image_edit(config)
        config["temporal-workers:kubernetes"]["kubeconfig"] = str(engine.cluster.kubeconfig)

    return edit


@pytest.mark.parametrize("stack", ["local", "dev", "staging", "prod", "preview"])
def test_every_stack_file_passes_the_gate(
    engine: Engine, kit: KitFactory, buildkit: Path, registry: str, stack: str
) -> None:
    """The gate command exits 0 on each stack file and reports the pack ran; nothing is created."""
    edit: Callable[[dict[str, Any]], None] | None = None
    if stack == "local":
        edit = _local_edit(engine, registry)
    elif stack == "dev":
        edit = local_machine_image(registry)
    stack_file = REPO_ROOT / f"Pulumi.{stack}.yaml"
    project = kit(stack, stack_file, edit, docker_config=buildkit)
    namespace = project.config().get("temporal-workers:namespace", {}).get("name")
    namespace = namespace or f"temporal-workers-{stack}"
    out = project.ok(["preview", *POLICY_ARGS])
    assert f"✅ {PACK}" in out, out[-3000:]
    assert "[mandatory]" not in out and "[advisory]" not in out, out[-3000:]
    assert ours(engine.cluster, namespace) == {}


def _handwritten(engine: Engine, workdir: Path, variant: str) -> Path:
    program = workdir / "handwritten_worker"
    shutil.copytree(PROGRAMS_DIR / "handwritten_worker", program)
    engine.ok(["stack", "init", f"gate-{variant}"], program)
    engine.ok(["config", "set", "variant", variant], program)
    engine.ok(["config", "set", "namespace", f"twk-gate-{variant}"], program)
    return program


def test_handwritten_good_worker_passes(engine: Engine, tmp_path: Path) -> None:
    """The hand-written worker without a flaw passes: each variant below fails for its flaw only."""
    program = _handwritten(engine, tmp_path, "good")
    out = engine.ok(["preview", *POLICY_ARGS], program)
    assert f"✅ {PACK}" in out, out[-3000:]
    assert "[mandatory]" not in out, out[-3000:]


@pytest.mark.parametrize(
    ("variant", "policy", "messages"),
    [
        (
            "one-replica-no-hpa",
            POLLERS,
            ['queue "orders": 1 guaranteed poller', "replicas=1", "set replicas >= 2"],
        ),
        (
            "hpa-min-1",
            POLLERS,
            ['queue "orders": 1 guaranteed poller', "minReplicas=1", "set minReplicas >= 2"],
        ),
        (
            "no-prestop",
            SHUTDOWN,
            ['container "worker" has no preStop hook', "lifecycle.preStop.exec.command"],
        ),
        (
            "short-grace",
            SHUTDOWN,
            [
                "terminationGracePeriodSeconds=20 < WORKER_GRACEFUL_SHUTDOWN_SECONDS=30 + 10 s",
                "set terminationGracePeriodSeconds >= 40",
            ],
        ),
    ],
)
def test_policy_pack_rejects(
    engine: Engine, tmp_path: Path, variant: str, policy: str, messages: list[str]
) -> None:
    """preview and up --yes fail with the mandatory policy's message; nothing is created."""
    program = _handwritten(engine, tmp_path, variant)
    namespace = f"twk-gate-{variant}"
    for command in (["preview"], ["up", "--yes"]):
        code, out = engine.run([*command, *POLICY_ARGS], program)
        assert code != 0, out
        assert re.search(rf"\[mandatory\][^\n]*  {policy}  ", out), out
        for message in messages:
            assert message in out, f"{message!r} not in:\n{out}"
        assert ours(engine.cluster, namespace) == {}, f"{command[0]} created objects"
        status, _ = engine.cluster.api("GET", f"/api/v1/namespaces/{namespace}")
        assert status == 404


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "defaults.autoscaling.minReplicas",
            "1",
            "autoscaling.minReplicas must be >= 2 (got 1)",
        ),
        ("queues.orders.autoscaling.mode", "fixed", None),
        (
            "defaults.terminationBufferSeconds",
            "5",
            "terminationBufferSeconds must be >= 10 (got 5)",
        ),
    ],
)
def test_kit_config_rejects_before_the_pack(
    engine: Engine, kit: KitFactory, key: str, value: str, message: str | None
) -> None:
    """The kit's own validation stops these first: exit non-zero, its message, no pack run."""
    project = kit("preview", REPO_ROOT / "Pulumi.preview.yaml")
    project.ok(["config", "set", "--path", key, value])
    if message is None:  # one fixed replica
        project.ok(["config", "set", "--path", "queues.orders.replicas", "1"])
        message = "queues.orders.replicas must be >= 2 (got 1)"
    code, out = project.run(["preview", *POLICY_ARGS])
    assert code != 0, out
    assert f"temporal-workers:{message}" in out or message in out, out
    assert "[mandatory]" not in out and "❌" not in out, out
    assert ours(engine.cluster, "temporal-workers-preview") == {}
