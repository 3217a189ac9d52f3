"""The deploy commands of the CI workflows, run as the workflows run them (`make policy-gate`,
`make promote`), with the built Pulumi CLI against the local control plane.

They run in a generated copy of the project (``tools.local_stack.generate_project`` plus the
Makefile), so `pulumi config set` of `make promote` writes the copy's stack file, never the
repo's. The preview-stack commands are covered by ``test_preview_stacks.py``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

from policies.temporal_policies.config import PACK_NAME
from tests.e2e.helpers import Engine, assert_quiet_engine_run
from tests.e2e.stack_support import wait_available, wait_nothing_ours
from tests.support.ci_commands import POLICY_GATE, PROMOTE, argv
from tools import local_stack
from tools.pulumi_env import REPO_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3600)]

STAMP_INPUTS = ("requirements.txt", "constraints.txt", "worker_image/requirements.txt")


def _make_project(workdir: Path, stack: str) -> Path:
    """The kit project for ``stack`` with the Makefile, its mk/ files and the repo's venv."""
    project = local_stack.generate_project(workdir, stack, REPO_ROOT / f"Pulumi.{stack}.yaml")
    shutil.copy2(REPO_ROOT / "Makefile", project / "Makefile")
    shutil.copytree(REPO_ROOT / "mk", project / "mk")
    for shared in ("policies", "scripts", "tools"):
        (project / shared).symlink_to(REPO_ROOT / shared, target_is_directory=True)
    (project / ".venv").symlink_to(REPO_ROOT / ".venv", target_is_directory=True)
    # The venv stamp's inputs, older than the stamp: make must not reinstall the shared venv.
    stamp = (REPO_ROOT / ".venv" / ".installed").stat().st_mtime
    for name in STAMP_INPUTS:
        target = project / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, target)
        os.utime(target, (stamp - 60, stamp - 60))
    return project


def _without_pulumi_on_path(env: dict[str, str]) -> dict[str, str]:
    """``env`` as on a machine with no ``pulumi`` on PATH (backend, cluster and home kept)."""
    dirs = env["PATH"].split(os.pathsep)
    kept = [d for d in dirs if not (Path(d) / "pulumi").exists()]
    assert len(kept) < len(dirs), "the engine env must have had a pulumi on PATH"
    return {**env, "PATH": os.pathsep.join(kept)}


def _make(
    engine: Engine, project: Path, args: list[str], env: dict[str, str] | None = None
) -> tuple[int, str]:
    proc = subprocess.run(
        args,
        cwd=project,
        env=env or engine.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
        check=False,
    )
    return proc.returncode, proc.stdout


def test_policy_gate_then_promote_staging(engine: Engine, tmp_path: Path) -> None:
    """`make policy-gate` passes staging's stack file; `make promote` deploys a digest to it.

    The gate runs as on this kit's offline machines (no `pulumi` on PATH: the make target brings
    the kit's own engine, nothing sourced first), the promotion as on a CI runner (a `pulumi` on
    PATH); neither prints a diagnostic.
    """
    stack, namespace = "staging", "temporal-workers-staging"
    project = _make_project(tmp_path / "project", stack)
    repo_stack_file = (REPO_ROOT / f"Pulumi.{stack}.yaml").read_bytes()
    code, out = _make(engine, project, ["pulumi", "stack", "init", stack, "--non-interactive"])
    assert code == 0, out
    try:
        offline = _without_pulumi_on_path(engine.env)
        code, gate = _make(engine, project, argv(POLICY_GATE, stack=stack), env=offline)
        assert code == 0, gate[-6000:]
        assert "scripts/with-engine pulumi preview" in gate
        assert_quiet_engine_run(gate)
        assert "--policy-pack-config policies/config/production.json" in gate
        assert "Policies:" in gate and PACK_NAME in gate.split("Policies:", 1)[1], gate[-3000:]
        status, _ = engine.cluster.api("GET", f"/api/v1/namespaces/{namespace}")
        assert status == 404, "the policy gate (a preview) must not create anything"

        digest = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
        ref = f"registry.invalid/temporal-workers/worker@sha256:{digest}"
        code, promoted = _make(engine, project, argv(PROMOTE, stack=stack, image_ref=ref))
        assert code == 0, promoted[-6000:]
        assert_quiet_engine_run(promoted)
        copy = yaml.safe_load((project / f"Pulumi.{stack}.yaml").read_text())
        assert copy["config"]["temporal-workers:image"]["ref"] == ref
        deployments = wait_available(engine.cluster, namespace, 3)
        images = {d["spec"]["template"]["spec"]["containers"][0]["image"] for d in deployments}
        assert images == {ref}
        assert (REPO_ROOT / f"Pulumi.{stack}.yaml").read_bytes() == repo_stack_file
    finally:
        _make(
            engine, project, ["pulumi", "destroy", "--yes", "--stack", stack, "--non-interactive"]
        )
        _make(
            engine,
            project,
            ["pulumi", "stack", "rm", "--yes", "--stack", stack, "--non-interactive"],
        )
    wait_nothing_ours(engine.cluster, namespace)
