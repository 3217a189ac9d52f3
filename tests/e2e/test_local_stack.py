"""``make up`` / ``make down``: the same module the make targets run, end to end.

``python -m tools.local_stack up`` starts a Temporal dev server, a registry and a BuildKit daemon
(free ports, a temporary work dir and backend), reuses the session's control plane and Docker
engine, builds the worker image through the Pulumi program (docker-build provider, remote builder,
pushed to the registry) and runs ``pulumi up --stack local`` with the policy pack; ``down`` destroys
the stack and stops exactly what ``up`` started."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.helpers import Engine, assert_quiet_engine_run
from tests.e2e.real_node_support import check_orders
from tests.e2e.stack_support import (
    api_items,
    registry_digest,
    wait_nothing_ours,
)
from tools import local_node, local_stack
from tools.pulumi_env import REPO_ROOT

pytest_plugins = ["tests.e2e.stack_fixtures"]  # session fixture docker_engine
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3600)]

QUEUES = ("billing", "orders", "shipments")
NAMESPACE = "temporal-workers-local"


def _cli(command: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.local_stack", command, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )


@pytest.mark.usefixtures("docker_engine")
def test_make_up_then_make_down(engine: Engine, tmp_path: Path) -> None:
    """up deploys three Available workloads by registry digest and says so; down removes it all."""
    temporal_port, registry_port = local_stack.free_port(), local_stack.free_port()
    work, backend = tmp_path / "work", tmp_path / "state"
    args = [
        "--work-dir", str(work), "--cluster-dir", str(engine.cluster.dir),
        "--backend-dir", str(backend), "--temporal-port", str(temporal_port),
        "--registry-port", str(registry_port),
    ]  # fmt: skip
    env = dict(engine.env)
    repo_stack_file = (REPO_ROOT / "Pulumi.local.yaml").read_text()

    try:
        _up_check_down(engine, args, env, temporal_port, registry_port, work)
    finally:
        if (work / "state.json").exists():  # a failed check: still stop what up started
            _cli("down", args, env)
    assert (REPO_ROOT / "Pulumi.local.yaml").read_text() == repo_stack_file


def _up_check_down(
    engine: Engine,
    args: list[str],
    env: dict[str, str],
    temporal_port: int,
    registry_port: int,
    work: Path,
) -> None:
    up = _cli("up", args, env)
    assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-4000:]
    out = up.stdout
    # The engine's own output is streamed into it: no diagnostic (plugins from PATH, versions, ...).
    assert_quiet_engine_run(out)

    # What was deployed, through the API server.
    cluster = engine.cluster
    deployments = api_items(cluster, f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments")
    assert sorted(d["metadata"]["labels"]["temporal.io/task-queue"] for d in deployments) == list(
        QUEUES
    )
    refs = set()
    for dep in deployments:
        conditions = {c["type"]: c["status"] for c in dep["status"]["conditions"]}
        assert conditions["Available"] == "True", dep["status"]
        assert dep["status"]["readyReplicas"] == 2, dep["status"]
        refs.add(dep["spec"]["template"]["spec"]["containers"][0]["image"])
    assert len(refs) == 1
    ref = refs.pop()
    match = re.fullmatch(
        rf"127\.0\.0\.1:{registry_port}/temporal-workers/worker@(sha256:[0-9a-f]{{64}})", ref
    )
    assert match, ref
    digest = match.group(1)
    hpas = api_items(
        cluster, f"/apis/autoscaling/v2/namespaces/{NAMESPACE}/horizontalpodautoscalers"
    )
    assert (
        sorted((h["spec"]["minReplicas"], h["spec"]["maxReplicas"]) for h in hpas) == [(2, 3)] * 3
    )
    pdbs = api_items(cluster, f"/apis/policy/v1/namespaces/{NAMESPACE}/poddisruptionbudgets")
    assert len(pdbs) == 3

    # The workers really run on the real node: an order completes through the pods alone (no
    # worker runs on the host), every activity done by a pod of its queue.
    pods = api_items(cluster, f"/api/v1/namespaces/{NAMESPACE}/pods")
    assert {p["spec"]["nodeName"] for p in pods} == {local_node.NODE_NAME}
    order = subprocess.run(
        [sys.executable, "-m", "orders_app.client", "place", "pods-1",
         "--address", f"127.0.0.1:{temporal_port}"],
        cwd=REPO_ROOT / "worker_image", capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert order.returncode == 0 and '"status": "completed"' in order.stdout, order
    report = check_orders(f"127.0.0.1:{temporal_port}", ["pods-1"])
    assert set(report.identities) == {f"{q}-worker" for q in QUEUES}, report.identities
    assert report.retried == [] and report.unpaired == [], report

    # The digest is the registry's: the manifest is there under exactly that digest.
    assert (
        registry_digest(f"127.0.0.1:{registry_port}", "temporal-workers/worker", digest) == digest
    )

    # The printed summary names the queues, workloads, the digest and how to look at them.
    assert 'local stack "local" is up' in out, out
    assert f"image digest         {digest}" in out, out
    assert f"127.0.0.1:{temporal_port}" in out
    for queue in QUEUES:
        row = rf"^  {queue}\s+{queue}-worker\s+2/2\s+yes\s+2-3\s+maxUnavailable=1\s+twk-real-0$"
        assert re.search(row, out, re.M), out
    assert f"kubectl -n {NAMESPACE} get deploy,hpa,pdb,pods" in out
    assert "✅ temporal-workers@v0.1.0" in out, "the policy pack did not run or did not pass"

    state = json.loads((work / "state.json").read_text())
    assert state["started"][:3] == ["temporal", "registry", "buildkitd"], state
    assert "cluster" not in state["started"], "the session's cluster was already running"
    started_pids = [state["pids"][name] for name in ("temporal", "registry", "buildkitd")]
    assert all(local_stack._alive(pid) for pid in started_pids)

    # An unchanged stack previews as unchanged (--expect-no-changes fails otherwise), quietly.
    preview = _cli("preview", args, env)
    assert preview.returncode == 0, preview.stdout[-6000:] + preview.stderr[-2000:]
    assert_quiet_engine_run(preview.stdout)
    assert re.search(r"^\s+\d+ unchanged$", preview.stdout, re.M), preview.stdout[-3000:]

    status = _cli("status", args, env)
    assert status.returncode == 0, status.stderr
    assert re.search(r"^temporal\s+running$", status.stdout, re.M), status.stdout
    assert "orders-worker" in status.stdout

    down = _cli("down", args, env)
    assert down.returncode == 0, down.stdout[-4000:] + down.stderr[-4000:]
    assert "destroyed stack local" in down.stdout
    wait_nothing_ours(cluster, NAMESPACE)
    assert not any(local_stack._alive(pid) for pid in started_pids), "down left a process running"
    assert not (work / "state.json").exists()
    assert all(cluster.running().values()), "down stopped a cluster it had not started"
