"""The deploy commands of the CI workflows, run as the workflows run them (`make policy-gate`,
`make promote`), with the built Pulumi CLI against the local control plane.

They run in a generated copy of the project (``tools.local_stack.generate_project`` plus the
Makefile), so `pulumi config set` of `make promote` writes the copy's stack file, never the
repo's. The preview-stack commands are covered by ``test_preview_stacks.py``.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest
import yaml

from infra.versions.build_id import from_digest
from policies.temporal_policies.config import PACK_NAME
from tests.e2e.helpers import Engine, assert_quiet_engine_run
from tests.e2e.stack_support import (
    local_rollout_control,
    make_project,
    run_make,
    wait_available,
    wait_nothing_ours,
    without_pulumi_on_path,
)
from tests.support.ci_commands import POLICY_GATE, PROMOTE, argv
from tests.support.temporal_dev import DevServer
from tests.support.versioned_workers import build_pollers, settings_of_config
from tools.pulumi_env import REPO_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3600)]


def test_policy_gate_then_promote_staging(
    engine: Engine, rollout_temporal: DevServer, tmp_path: Path
) -> None:
    """`make policy-gate` passes staging's stack file; `make promote` deploys a digest to it.

    The gate runs as on this kit's offline machines (no `pulumi` on PATH: the make target brings
    the kit's own engine, nothing sourced first), the promotion as on a CI runner (a `pulumi` on
    PATH); neither prints a diagnostic. staging is versioned: pulumi routes through the local dev
    server, where host workers poll as the promoted build (the pods run on kwok).
    """
    stack, namespace = "staging", "temporal-workers-staging"
    project = make_project(
        tmp_path / "project",
        stack,
        local_rollout_control(rollout_temporal, isolate=uuid.uuid4().hex[:8]),
    )
    settings = settings_of_config(
        yaml.safe_load((project / f"Pulumi.{stack}.yaml").read_text())["config"], stack
    )
    repo_stack_file = (REPO_ROOT / f"Pulumi.{stack}.yaml").read_bytes()
    code, out = run_make(engine, project, ["pulumi", "stack", "init", stack, "--non-interactive"])
    assert code == 0, out
    try:
        offline = without_pulumi_on_path(engine.env)
        code, gate = run_make(engine, project, argv(POLICY_GATE, stack=stack), env=offline)
        assert code == 0, gate[-6000:]
        assert "scripts/with-engine pulumi preview" in gate
        assert_quiet_engine_run(gate)
        assert "--policy-pack-config policies/config/production.json" in gate
        assert "Policies:" in gate and PACK_NAME in gate.split("Policies:", 1)[1], gate[-3000:]
        status, _ = engine.cluster.api("GET", f"/api/v1/namespaces/{namespace}")
        assert status == 404, "the policy gate (a preview) must not create anything"

        digest = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
        ref = f"registry.invalid/temporal-workers/worker@sha256:{digest}"
        build = from_digest(ref)
        with build_pollers(settings, rollout_temporal, build, tmp_path / "workers"):
            code, promoted = run_make(engine, project, argv(PROMOTE, stack=stack, image_ref=ref))
        assert code == 0, promoted[-6000:]
        assert_quiet_engine_run(promoted)
        copy = yaml.safe_load((project / f"Pulumi.{stack}.yaml").read_text())
        assert copy["config"]["temporal-workers:image"]["ref"] == ref
        deployments = wait_available(engine.cluster, namespace, 3)
        images = {d["spec"]["template"]["spec"]["containers"][0]["image"] for d in deployments}
        assert images == {ref}
        names = {d["metadata"]["name"] for d in deployments}
        assert names == {f"{q}-worker-{build}" for q in ("orders", "billing", "shipments")}
        assert (REPO_ROOT / f"Pulumi.{stack}.yaml").read_bytes() == repo_stack_file
    finally:
        run_make(
            engine, project, ["pulumi", "destroy", "--yes", "--stack", stack, "--non-interactive"]
        )
        run_make(
            engine,
            project,
            ["pulumi", "stack", "rm", "--yes", "--stack", stack, "--non-interactive"],
        )
    wait_nothing_ours(engine.cluster, namespace)
