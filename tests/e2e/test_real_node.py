"""Worker pods on the real node (kubelet + containerd) lose no work when Kubernetes moves them.

The local stack's file, with the worker image prebuilt and pushed to the session's registry (the
node pulls it over plain HTTP on 127.0.0.1) and Temporal at the node address (forwarded to the dev
server on 127.0.0.1). No worker runs on the host: every activity is done by a pod. While orders
stream in (each with activities on three queues, the packing one in flight for seconds), the
stack goes through a rolling update (a config change), ``kubectl drain`` of the node (the PDB must
refuse what would leave a queue below 2 pods) and a scale-down through the stack (HPA bounds
lowered). Then: no workflow failed, every activity ran once on attempt 1, and every pod that was
removed ran its preStop drain and exited 0 (no SIGKILL).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from temporalio.client import Client

from infra.versions import temporal_api as api
from infra.versions.build_id import from_digest
from tests.e2e.helpers import Engine
from tests.e2e.real_node_support import OrderStream, PodWatch, check_orders
from tests.e2e.stack_support import api_items, local_rollout_control, make_project, run_make
from tests.support.ci_commands import DEPLOY, PROMOTE, argv
from tests.support.docker_engine import push_worker_image
from tests.support.temporal_dev import SHORT_DRAINAGE, DevServer, dev_server
from tools import local_node, pulumi_env
from tools.pulumi_env import REPO_ROOT

if TYPE_CHECKING:  # the fixtures module is loaded as a plugin, not imported
    from tests.e2e.stack_fixtures import KitFactory

pytest_plugins = ["tests.e2e.stack_fixtures"]
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3600)]

QUEUES = ("orders", "billing", "shipments")
STAGING = "staging"
REPOSITORY = "temporal-workers/worker"


@pytest.fixture(scope="module")
def node_temporal(engine: Engine) -> Iterator[DevServer]:
    """A dev server on 127.0.0.1 that the pods reach at the node address."""
    with dev_server(dynamic_config=SHORT_DRAINAGE) as server:
        port = int(server.address.rsplit(":", 1)[1])
        node = engine.cluster.node()
        node.forward(port)
        try:
            yield server
        finally:
            node.unforward(port)


@pytest.fixture(scope="module")
def worker_refs(registry: str, engine: Engine) -> dict[str, str]:
    """Two builds of ``worker_image/`` (versions a and b) in the registry, by digest."""
    refs = {v: push_worker_image(registry, REPOSITORY, f"real-node-{v}") for v in ("a", "b")}
    engine.cluster.node().trust_registry(registry)
    return refs


def _kubectl(engine: Engine, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(pulumi_env.tools_bin() / "kubectl"), *args],
        env={**engine.env, "KUBECONFIG": str(engine.cluster.kubeconfig)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _pods(engine: Engine, namespace: str) -> list[dict[str, Any]]:
    return api_items(engine.cluster, f"/api/v1/namespaces/{namespace}/pods")


def _wait_rolled(engine: Engine, namespace: str, replicas: int, timeout: float = 240) -> None:
    """Every queue has exactly ``replicas`` Ready pods of its current template, none leaving."""
    deadline = time.monotonic() + timeout
    while True:
        deployments = api_items(engine.cluster, f"/apis/apps/v1/namespaces/{namespace}/deployments")
        pods = _pods(engine, namespace)
        done = len(deployments) == len(QUEUES) and all(
            d["status"].get("observedGeneration") == d["metadata"]["generation"]
            and d["status"].get("updatedReplicas") == replicas
            and d["status"].get("readyReplicas") == replicas
            and d["status"].get("replicas") == replicas
            for d in deployments
        )
        if done and len(pods) == replicas * len(QUEUES):
            return
        assert time.monotonic() < deadline, f"not rolled to {replicas} per queue: " + str(
            [(d["metadata"]["name"], d["status"]) for d in deployments]
        )
        time.sleep(1)


def _ready_per_queue(engine: Engine, namespace: str) -> dict[str, int]:
    ready = dict.fromkeys(QUEUES, 0)
    for pod in _pods(engine, namespace):
        if pod["metadata"].get("deletionTimestamp"):
            continue
        conditions = {c["type"]: c["status"] for c in pod["status"].get("conditions") or []}
        if conditions.get("Ready") == "True":
            ready[pod["metadata"]["labels"]["temporal.io/task-queue"]] += 1
    return ready


def test_rollout_drain_and_scale_down_under_load_lose_no_work(
    engine: Engine,
    kit: KitFactory,
    node_temporal: DevServer,
    worker_refs: dict[str, str],
    tmp_path: Path,
) -> None:
    namespace = f"twk-real-{uuid.uuid4().hex[:6]}"
    port = node_temporal.address.rsplit(":", 1)[1]

    def edit(config: dict[str, Any]) -> None:
        config["temporal-workers:image"] = {"source": "prebuilt", "ref": worker_refs["a"]}
        config["temporal-workers:kubernetes"] = {"kubeconfig": str(engine.cluster.kubeconfig)}
        config["temporal-workers:namespace"] = {"name": namespace}
        config["temporal-workers:temporal"] = {
            "address": f"{local_node.NODE_IP}:{port}",
            "namespace": "default",
        }
        config["temporal-workers:defaults"]["autoscaling"] = {
            "minReplicas": 3,
            "maxReplicas": 3,
            "scaleDownStabilizationSeconds": 0,
        }

    project = kit("local", REPO_ROOT / "Pulumi.local.yaml", edit)

    def change(mutate: Any) -> None:
        data = yaml.safe_load(project.config_file.read_text())
        mutate(data["config"]["temporal-workers:defaults"])
        project.config_file.write_text(yaml.safe_dump(data, sort_keys=False))
        project.ok(["up", "--yes", "--skip-preview"])

    project.ok(["up", "--yes", "--skip-preview"])
    try:
        _wait_rolled(engine, namespace, 3)
        nodes = {p["spec"]["nodeName"] for p in _pods(engine, namespace)}
        assert nodes == {local_node.NODE_NAME}, nodes
        kubectl = pulumi_env.tools_bin() / "kubectl"
        watch = PodWatch(engine.cluster, kubectl, namespace, tmp_path / "pod-logs")
        stream = OrderStream(node_temporal.address, interval=0.5, ship_seconds=2.0)
        time.sleep(4)  # orders in flight on every queue

        # 1. A config change rolls every queue (maxSurge 1, maxUnavailable 0).
        began = time.monotonic()
        change(lambda d: d.setdefault("env", {}).update({"ROLLOUT_MARK": "2"}))
        _wait_rolled(engine, namespace, 3)
        rolled = time.monotonic() - began

        # 2. kubectl drain: one eviction per queue, then the PDB refuses (2 pods must stay).
        drain = _kubectl(
            engine, "drain", local_node.NODE_NAME, "--ignore-daemonsets",
            "--delete-emptydir-data", "--pod-selector=app.kubernetes.io/part-of=temporal-workers",
            "--timeout=45s",
        )  # fmt: skip
        assert drain.returncode != 0, drain.stdout + drain.stderr
        assert "disruption budget" in drain.stderr + drain.stdout, drain.stderr[-2000:]
        assert _ready_per_queue(engine, namespace) == dict.fromkeys(QUEUES, 2)
        assert _kubectl(engine, "uncordon", local_node.NODE_NAME).returncode == 0
        _wait_rolled(engine, namespace, 3)

        # 3. Scale-down through the stack: the HPA's bounds lowered to 2.
        change(lambda d: d["autoscaling"].update({"minReplicas": 2, "maxReplicas": 2}))
        _wait_rolled(engine, namespace, 2)

        time.sleep(4)
        order_ids = stream.stop()
        report = check_orders(node_temporal.address, order_ids)
        watch.wait_deleted_settled()
        watch.stop()
    finally:
        _kubectl(engine, "uncordon", local_node.NODE_NAME)
        project.run(["destroy", "--yes", "--skip-preview"])

    terminated = watch.terminated()
    print(
        f"\nreal node under load: {report.started} orders started, {report.completed} completed, "
        f"{len(report.failed)} failed, {len(report.retried)} activity retries, "
        f"{report.activities} activities; {len(terminated)} pods removed "
        f"(rolling update of 3 queues x 3 pods in {rolled:.1f} s, drain, scale-down); "
        f"activities by workload {dict(report.identities)}"
    )
    assert report.started >= 20, report
    assert report.failed == [], report.failed[:5]
    assert report.completed == report.started
    assert report.retried == [], report.retried[:5]
    assert report.unpaired == [], report.unpaired[:5]
    assert set(report.identities) == {f"{q}-worker" for q in QUEUES}, report.identities
    # 9 replaced by the rollout, 3 evicted by the drain, 3 removed by the scale-down.
    assert len(terminated) >= 15, [p.name for p in terminated]
    for pod in terminated:
        messages = pod.log_messages()
        assert (pod.exit_code, pod.reason) == (0, "Completed"), (pod, messages[-5:])
        assert "drain requested over HTTP" in messages and "drained" in messages, (pod, messages)


def _current_and_status(
    server: DevServer, deployment: str, build: str
) -> tuple[str | None, str | None]:
    async def read() -> tuple[str | None, str | None]:
        client = await Client.connect(server.address)
        snap = await api.describe(client, deployment)
        assert snap is not None, deployment
        return snap.current, snap.status_of(build)

    return asyncio.run(read())


def test_versioned_rollout_under_load_drains_the_old_build_on_real_pods(
    engine: Engine, node_temporal: DevServer, worker_refs: dict[str, str], tmp_path: Path
) -> None:
    """A->B with staging's versioned stack: orders started on A finish on A's pods, new ones run
    on B's; once A is drained, `make deploy` scales A to 0 and each of its pods drains and exits 0.
    """
    namespace, isolate = "temporal-workers-staging", uuid.uuid4().hex[:8]
    port = node_temporal.address.rsplit(":", 1)[1]

    def edit(config: dict[str, Any]) -> None:
        local_rollout_control(
            node_temporal,
            isolate=isolate,
            timeouts={"pollersSeconds": 240},
            sunset={"scaledownDelaySeconds": 0},
        )(config)
        config["temporal-workers:kubernetes"] = {"kubeconfig": str(engine.cluster.kubeconfig)}
        config["temporal-workers:temporal"] = {
            "address": f"{local_node.NODE_IP}:{port}",
            "namespace": "default",
        }
        defaults = config["temporal-workers:defaults"]
        defaults["autoscaling"] = {"minReplicas": 2, "maxReplicas": 2}
        defaults["resources"] = {"requests": {"cpu": "50m", "memory": "96Mi"}}
        defaults["gracefulShutdownSeconds"] = 10
        defaults["nodeSelector"] = local_node.node_selector()
        defaults["tolerations"] = [local_node.toleration()]

    project = make_project(tmp_path / "project", STAGING, edit)
    code, out = run_make(engine, project, ["pulumi", "stack", "init", STAGING, "--non-interactive"])
    assert code == 0, out
    build_a, build_b = (from_digest(worker_refs[v]) for v in ("a", "b"))
    orders = f"temporal-workers-orders-{isolate}"
    try:
        code, out = run_make(
            engine, project, argv(PROMOTE, stack=STAGING, image_ref=worker_refs["a"])
        )
        assert code == 0, out[-6000:]
        assert _current_and_status(node_temporal, orders, build_a)[0] == build_a
        watch = PodWatch(engine.cluster, pulumi_env.tools_bin() / "kubectl", namespace, tmp_path)
        stream = OrderStream(node_temporal.address, interval=0.5, ship_seconds=2.0)
        time.sleep(4)
        began = time.monotonic()
        code, out = run_make(
            engine, project, argv(PROMOTE, stack=STAGING, image_ref=worker_refs["b"])
        )
        assert code == 0, out[-6000:]
        promoted = time.monotonic() - began
        time.sleep(4)
        order_ids = stream.stop()
        report = check_orders(node_temporal.address, order_ids)

        deadline = time.monotonic() + 120
        while _current_and_status(node_temporal, orders, build_a) != (build_b, "drained"):
            assert time.monotonic() < deadline, "build A never drained"
            time.sleep(1)
        code, out = run_make(engine, project, argv(DEPLOY, stack=STAGING))
        assert code == 0, out[-6000:]
        deadline = time.monotonic() + 120
        while any(build_a in p["metadata"]["name"] for p in _pods(engine, namespace)):
            assert time.monotonic() < deadline, "build A's pods still run"
            time.sleep(1)
        watch.wait_deleted_settled()
        watch.stop()
    finally:
        for command in (["destroy", "--yes"], ["stack", "rm", "--yes"]):
            run_make(engine, project, ["pulumi", *command, "--stack", STAGING, "--non-interactive"])

    terminated = watch.terminated()
    print(
        f"\nversioned A->B under load: {report.started} orders started, {report.completed} "
        f"completed, {len(report.failed)} failed, {len(report.retried)} activity retries; "
        f"promotion took {promoted:.1f} s; {len(terminated)} pods of A drained at its sunset; "
        f"activities by workload {dict(report.identities)}"
    )
    assert report.failed == [] and report.completed == report.started >= 10, report
    assert report.retried == [] and report.unpaired == [], report
    workloads = {f"{q}-worker-{b}" for q in QUEUES for b in (build_a, build_b)}
    assert set(report.identities) <= workloads, report.identities
    assert {w for w in report.identities if build_a in w}, "no order ran on build A"
    assert {w for w in report.identities if build_b in w}, "no order ran on build B"
    assert len(terminated) == 2 * len(QUEUES), [p.name for p in terminated]
    for pod in terminated:
        assert build_a in pod.name, pod
        messages = pod.log_messages()
        assert (pod.exit_code, pod.reason) == (0, "Completed"), (pod, messages[-5:])
        assert "drain requested over HTTP" in messages and "drained" in messages, (pod, messages)
