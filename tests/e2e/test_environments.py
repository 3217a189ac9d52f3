"""Per-environment runs: the dev, staging and prod stack files against the local control plane.

dev builds the worker image through the Pulumi program (docker-build provider) and pushes it to a
registry on 127.0.0.1 (the stack file's registry is replaced by it, and the base image and wheels by
this machine's local ones: nothing is pulled). staging and prod then get exactly that digest with
``pulumi config set --path image.ref`` (build once, promote by digest) on a copy of their stack
file.
Each environment: ``pulumi preview``, ``pulumi up`` with the policy pack, every Deployment
Available, HPAs and PDBs present (through the API), a second ``up`` changes nothing, ``destroy``
leaves nothing labelled ``app.kubernetes.io/part-of=temporal-workers``. The repo's stack files are
never modified (the engine works on copies).
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from infra.versions.build_id import from_digest
from tests.e2e.helpers import Engine
from tests.e2e.stack_support import (
    POLICY_ARGS,
    KitProject,
    api_items,
    ensure_servicemonitor_crd,
    local_machine_image,
    local_rollout_control,
    ours,
    registry_digest,
    wait_available,
    wait_nothing_ours,
)
from tests.support.temporal_dev import DevServer
from tests.support.versioned_workers import build_pollers, settings_of_config
from tools.pulumi_env import REPO_ROOT

if TYPE_CHECKING:  # the fixtures module is loaded as a plugin, not imported
    from tests.e2e.stack_fixtures import KitFactory

pytest_plugins = ["tests.e2e.stack_fixtures"]  # session fixtures: docker_engine, registry, buildkit
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3600)]

QUEUES = ("billing", "orders", "shipments")
DIGEST_REF = r"127\.0\.0\.1:\d+/temporal-workers/worker@sha256:[0-9a-f]{64}"


@dataclass
class Deployed:
    """A stack that ``pulumi up`` deployed."""

    project: KitProject
    namespace: str
    image_ref: str


def _secret(
    namespace: str, name: str, data: dict[str, str], kind: str = "Opaque"
) -> dict[str, Any]:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    meta = {"name": name, "namespace": namespace}
    return {"apiVersion": "v1", "kind": "Secret", "type": kind, "metadata": meta, "data": encoded}


def _precreate(engine: Engine, namespace: str, secrets: list[dict[str, Any]]) -> None:
    """The environment's namespace and the existing Secrets its stack file references."""
    status, body = engine.cluster.api(
        "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                       "metadata": {"name": namespace}}
    )  # fmt: skip
    assert status == 201, body
    for secret in secrets:
        status, body = engine.cluster.api("POST", f"/api/v1/namespaces/{namespace}/secrets", secret)
        assert status == 201, body


def _preview_and_up(project: KitProject, namespace: str) -> str:
    preview = project.ok(["preview", "--diff"])
    for kind in ("apps/v1:Deployment", "autoscaling/v2:HorizontalPodAutoscaler",
                 "policy/v1:PodDisruptionBudget"):  # fmt: skip
        assert preview.count(f"kubernetes:{kind}") >= len(QUEUES), preview[-3000:]
    assert not api_items(
        project.engine.cluster, f"/apis/apps/v1/namespaces/{namespace}/deployments"
    )
    return project.ok(["up", "--yes", *POLICY_ARGS])


def _check_deployed(
    project: KitProject, namespace: str, image_ref: str, min_replicas: dict[str, int]
) -> None:
    cluster = project.engine.cluster
    deployments = wait_available(cluster, namespace, len(QUEUES), min_ready=min_replicas)
    by_queue = {d["metadata"]["labels"]["temporal.io/task-queue"]: d for d in deployments}
    assert sorted(by_queue) == list(QUEUES)
    for queue, dep in by_queue.items():
        container = dep["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == image_ref, (queue, container["image"])
        assert dep["status"]["readyReplicas"] >= min_replicas[queue], dep["status"]
        assert container["lifecycle"]["preStop"]["exec"]["command"][-1] == "drain"
    hpas = api_items(
        cluster, f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers"
    )
    assert {h["spec"]["scaleTargetRef"]["name"]: h["spec"]["minReplicas"] for h in hpas} == {
        d["metadata"]["name"]: min_replicas[q] for q, d in by_queue.items()
    }
    pdbs = api_items(cluster, f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets")
    assert sorted(p["metadata"]["labels"]["temporal.io/task-queue"] for p in pdbs) == list(QUEUES)


def _second_up_and_destroy(project: KitProject, namespace: str) -> None:
    again = project.ok(["up", "--yes", "--expect-no-changes", *POLICY_ARGS])
    assert re.search(r"\d+ unchanged", again), again[-2000:]
    assert not re.search(r"\b\d+ (to )?(create|update|delete|replace)", again), again[-2000:]
    project.ok(["destroy", "--yes"])
    wait_nothing_ours(project.engine.cluster, namespace)
    instance = f"app.kubernetes.io/instance={project.stack}"
    left = ours(project.engine.cluster)
    assert not any(namespace in name for names in left.values() for name in names), left
    assert not api_items(project.engine.cluster, "/apis/apps/v1/deployments", instance)


@pytest.fixture(scope="module")
def dev(
    engine: Engine,
    buildkit: Path,
    registry: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Deployed]:
    """The dev stack file, built through the program and pushed to the local registry, up."""
    work = tmp_path_factory.mktemp("envs")
    stack_file = REPO_ROOT / "Pulumi.dev.yaml"
    edit = local_machine_image(registry)
    project = KitProject(engine, work, "dev", stack_file, edit, docker_config=buildkit)
    namespace = project.config()["temporal-workers:namespace"]["name"]
    _preview_and_up(project, namespace)
    outputs = project.ok(["stack", "output", "image", "--json"])
    match = re.search(rf'"ref":\s*"({DIGEST_REF})"', outputs)
    assert match, outputs
    yield Deployed(project, namespace, match.group(1))
    project.remove()


def test_dev_builds_pushes_and_deploys_by_digest(dev: Deployed, registry: str) -> None:
    """dev: the image the program built is in the registry under the digest the pods use."""
    assert dev.image_ref.startswith(f"{registry}/temporal-workers/worker@sha256:")
    digest = dev.image_ref.split("@", 1)[1]
    assert registry_digest(registry, "temporal-workers/worker", digest) == digest
    assert registry_digest(registry, "temporal-workers/worker", "dev-0.1.0") == digest
    _check_deployed(dev.project, dev.namespace, dev.image_ref, dict.fromkeys(QUEUES, 2))
    _second_up_and_destroy(dev.project, dev.namespace)


@pytest.mark.parametrize(
    ("stack", "secrets", "min_replicas"),
    [
        (
            "staging",
            [
                _secret(
                    "temporal-workers-staging", "temporal-cloud-credentials", {"api-key": "e2e-key"}
                )
            ],
            dict.fromkeys(QUEUES, 2),
        ),
        (
            "prod",
            [
                _secret(
                    "temporal-workers-prod",
                    "temporal-mtls",
                    {"tls.crt": "e2e-cert", "tls.key": "e2e-key"},
                    kind="kubernetes.io/tls",
                )
            ],
            {"orders": 3, "billing": 4, "shipments": 3},
        ),
    ],
)
def test_promoted_environment(
    dev: Deployed,
    engine: Engine,
    kit: KitFactory,
    rollout_temporal: DevServer,
    tmp_path: Path,
    stack: str,
    secrets: list[dict[str, Any]],
    min_replicas: dict[str, int],
) -> None:
    """staging/prod: dev's digest promoted with pulumi config set, deployed next to its Secrets.

    Both are versioned: pulumi routes through the local dev server, where host workers poll as
    the promoted build (the pods run on kwok); the build id is the digest's.
    """
    stack_file = REPO_ROOT / f"Pulumi.{stack}.yaml"
    before = stack_file.read_text()
    edit = local_rollout_control(rollout_temporal, isolate=uuid.uuid4().hex[:8])
    project = kit(stack, stack_file, edit)
    project.ok(["config", "set", "--path", "image.ref", dev.image_ref])
    assert project.config()["temporal-workers:image"]["ref"] == dev.image_ref
    namespace = project.config()["temporal-workers:namespace"]["name"]
    _precreate(engine, namespace, secrets)
    if project.config()["temporal-workers:defaults"].get("serviceMonitor", {}).get("enabled"):
        ensure_servicemonitor_crd(engine.cluster)

    settings = settings_of_config(project.config(), stack)
    build = from_digest(dev.image_ref)
    with build_pollers(settings, rollout_temporal, build, tmp_path / "workers"):
        _preview_and_up(project, namespace)
        _check_deployed(project, namespace, dev.image_ref, min_replicas)
    names = {d["metadata"]["name"] for d in api_items(
        engine.cluster, f"/apis/apps/v1/namespaces/{namespace}/deployments"
    )}  # fmt: skip
    assert names == {f"{queue}-worker-{build}" for queue in QUEUES}
    secret_names = {s["metadata"]["name"] for s in secrets}
    for dep in api_items(engine.cluster, f"/apis/apps/v1/namespaces/{namespace}/deployments"):
        pod = dep["spec"]["template"]["spec"]
        referenced = {
            e["valueFrom"]["secretKeyRef"]["name"]
            for c in pod["containers"]
            for e in c.get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {})
        } | {v["secret"]["secretName"] for v in pod.get("volumes", []) if "secret" in v}
        assert secret_names <= referenced, (dep["metadata"]["name"], referenced)
    _second_up_and_destroy(project, namespace)  # settled routing: no pollers needed, no change
    assert stack_file.read_text() == before
