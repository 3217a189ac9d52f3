"""Helpers of the stack e2e tests (local stack, environments, policy gate).

Kit projects that run the real program on a copy of a stack file, and checks through the
Kubernetes API. The session fixtures are in ``stack_fixtures.py`` (loaded with ``pytest_plugins``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.helpers import Engine
from tests.support.temporal_dev import DevServer
from tools import local_stack
from tools.local_cluster import LocalCluster
from tools.pulumi_env import REPO_ROOT

PART_OF = "app.kubernetes.io/part-of=temporal-workers"
POLICY_ARGS = [
    "--policy-pack",
    str(REPO_ROOT / "policies"),
    "--policy-pack-config",
    str(REPO_ROOT / "policies" / "config" / "production.json"),
]
DOCKER_ENGINE = str(REPO_ROOT / "scripts" / "docker-engine.sh")
# Namespaced kinds the kit creates (plus what controllers derive from them), for "nothing left".
NAMESPACED_KINDS = {
    "Deployment": "/apis/apps/v1/deployments",
    "ReplicaSet": "/apis/apps/v1/replicasets",
    "Pod": "/api/v1/pods",
    "HorizontalPodAutoscaler": "/apis/autoscaling/v2/horizontalpodautoscalers",
    "PodDisruptionBudget": "/apis/policy/v1/poddisruptionbudgets",
    "Service": "/api/v1/services",
    "ConfigMap": "/api/v1/configmaps",
    "Secret": "/api/v1/secrets",
    "ServiceAccount": "/api/v1/serviceaccounts",
}


class KitProject:
    """The kit's real program on a copy of one stack file, in a generated project directory."""

    def __init__(
        self,
        engine: Engine,
        workdir: Path,
        stack: str,
        stack_file: Path,
        edit: Callable[[dict[str, Any]], None] | None = None,
        docker_config: Path | None = None,
    ) -> None:
        """Generate the project (see ``tools.local_stack.generate_project``) and init the stack.

        ``docker_config`` (from the ``buildkit`` fixture) is needed by stack files that build.
        """
        self.engine = engine
        self.stack = stack
        self.dir = local_stack.generate_project(workdir / stack, stack, stack_file, edit)
        self.env = dict(engine.env, DOCKER_HOST=local_stack.DOCKER_HOST)
        if docker_config is not None:
            self.env["DOCKER_CONFIG"] = str(docker_config)
        self.ok(["stack", "init"])

    def remove(self) -> None:
        """``pulumi stack rm --force``: forget the stack (the backend is shared by the session)."""
        self.run(["stack", "rm", "--yes", "--force"])

    @property
    def config_file(self) -> Path:
        """The stack file copy the engine uses."""
        return self.dir / f"Pulumi.{self.stack}.yaml"

    def config(self) -> dict[str, Any]:
        """The copy's ``config`` mapping as written on disk."""
        return dict(yaml.safe_load(self.config_file.read_text())["config"])

    def run(self, args: list[str], timeout: float = 900.0) -> tuple[int, str]:
        """``pulumi ARGS --stack <stack>``; returns (exit code, combined output)."""
        proc = subprocess.run(
            ["pulumi", *args, "--stack", self.stack, "--non-interactive"],
            cwd=self.dir,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
        return proc.returncode, proc.stdout

    def ok(self, args: list[str], timeout: float = 900.0) -> str:
        """Run and fail the test with the output unless pulumi exits 0."""
        code, out = self.run(args, timeout)
        assert code == 0, (
            f"pulumi {' '.join(args)} (stack {self.stack}) exited {code}:\n{out[-6000:]}"
        )
        return out


def local_rollout_control(
    server: DevServer, isolate: str | None = None, **versioning: Any
) -> Callable[[dict[str, Any]], None]:
    """Edit for a versioned stack file: pulumi reaches the local dev server for routing.

    The workers' Temporal settings stay as the file has them (and so do the rendered objects);
    `versioning.controlAddress`/`controlTls` (and the given `versioning` keys) change. `isolate`
    suffixes every queue's Worker Deployment name, so tests sharing the dev server never see each
    other's versions.
    """

    def edit(config: dict[str, Any]) -> None:
        section = config.setdefault("temporal-workers:versioning", {})
        section.update({"controlAddress": server.address, "controlTls": False, **versioning})
        if isolate is not None:
            for queue, spec in config["temporal-workers:queues"].items():
                spec["deploymentName"] = f"temporal-workers-{queue}-{isolate}"

    return edit


def local_machine_image(registry: str) -> Callable[[dict[str, Any]], None]:
    """Edit for a building stack file: push to the local registry, build from local parts.

    The base image is the local debootstrap image (pushed to ``registry`` by the fixture) and the
    wheels come from the wheelhouse (nothing is pulled on this machine kind); the registry
    replaces the stack file's.
    """

    def edit(config: dict[str, Any]) -> None:
        image = config["temporal-workers:image"]
        path = str(image["repository"]).split("/", 1)[1]
        image["repository"] = f"{registry}/{path}"
        image["registry"] = {"address": registry}
        image["push"] = True
        image["baseImage"] = f"{registry}/{local_stack.BASE_IMAGE}"
        image["wheelhouse"] = ".wheelhouse"

    return edit


def api_items(cluster: LocalCluster, path: str, selector: str = PART_OF) -> list[dict[str, Any]]:
    """``GET path?labelSelector=...`` items; fails the test on an HTTP error."""
    status, body = cluster.api("GET", f"{path}?labelSelector={urllib.parse.quote(selector)}")
    assert status == 200, f"GET {path}: HTTP {status}: {body}"
    return list(body.get("items", []))


def ours(cluster: LocalCluster, namespace: str | None = None) -> dict[str, list[str]]:
    """Every object labelled part-of=temporal-workers (in one namespace, or all), by kind."""
    found: dict[str, list[str]] = {}
    for kind, path in NAMESPACED_KINDS.items():
        if namespace is not None:
            group, _, resource = path.rpartition("/")
            path = f"{group}/namespaces/{namespace}/{resource}"
        names = [
            f"{i['metadata']['namespace']}/{i['metadata']['name']}"
            for i in api_items(cluster, path)
        ]
        if names:
            found[kind] = names
    if cluster.api("GET", SERVICE_MONITORS)[0] == 200:
        path = SERVICE_MONITORS
        if namespace is not None:
            path = f"/apis/monitoring.coreos.com/v1/namespaces/{namespace}/servicemonitors"
        names = [i["metadata"]["name"] for i in api_items(cluster, path)]
        if names:
            found["ServiceMonitor"] = names
    if namespace is None:
        names = [i["metadata"]["name"] for i in api_items(cluster, "/api/v1/namespaces")]
    else:
        status, _ = cluster.api("GET", f"/api/v1/namespaces/{namespace}")
        names = [namespace] if status == 200 else []
    if names:
        found["Namespace"] = names
    return found


def wait_nothing_ours(cluster: LocalCluster, namespace: str, timeout: float = 90.0) -> None:
    """Wait until nothing of ours is left in ``namespace`` and the namespace is gone."""
    deadline = time.monotonic() + timeout
    left = ours(cluster, namespace)
    while left and time.monotonic() < deadline:
        time.sleep(1.0)
        left = ours(cluster, namespace)
    assert not left, f"left in the cluster after destroy: {left}"


def wait_available(
    cluster: LocalCluster,
    namespace: str,
    count: int,
    timeout: float = 120.0,
    min_ready: dict[str, int] | None = None,
) -> list[dict[str, Any]]:
    """Wait until ``count`` Deployments of ours in ``namespace`` are Available; returns them.

    ``min_ready`` (task queue -> replicas) also waits for that many ready pods: a Deployment whose
    replicas an HPA owns starts with one and the HPA raises it to minReplicas on its next sync.
    """
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    deadline = time.monotonic() + timeout

    def settled(dep: dict[str, Any]) -> bool:
        queue = dep["metadata"]["labels"].get("temporal.io/task-queue", "")
        ready = int(dep.get("status", {}).get("readyReplicas", 0))
        return _condition(dep, "Available") == "True" and ready >= (min_ready or {}).get(queue, 1)

    while True:
        deployments = api_items(cluster, path)
        done = [d for d in deployments if settled(d)]
        if len(deployments) == count and len(done) == count:
            return deployments
        if time.monotonic() > deadline:
            states = {d["metadata"]["name"]: d.get("status", {}) for d in deployments}
            raise AssertionError(f"{len(done)}/{count} Deployments settled: {states}")
        time.sleep(1.0)


def _condition(obj: dict[str, Any], kind: str) -> str | None:
    for cond in obj.get("status", {}).get("conditions", []) or []:
        if cond.get("type") == kind:
            return str(cond.get("status"))
    return None


SERVICE_MONITORS = "/apis/monitoring.coreos.com/v1/servicemonitors"


def ensure_servicemonitor_crd(cluster: LocalCluster, timeout: float = 30.0) -> None:
    """Register the Prometheus Operator's ServiceMonitor kind (schema-less) for prod's stack file.

    prod enables ``serviceMonitor``, which needs the operator's CRD; the operator itself is not
    needed for the objects to be stored and read back.
    """
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
        "spec": {
            "group": "monitoring.coreos.com",
            "scope": "Namespaced",
            "names": {
                "kind": "ServiceMonitor",
                "listKind": "ServiceMonitorList",
                "plural": "servicemonitors",
                "singular": "servicemonitor",
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }
    status, body = cluster.api(
        "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd
    )
    assert status in (201, 409), body
    deadline = time.monotonic() + timeout
    while cluster.api("GET", SERVICE_MONITORS)[0] != 200:
        assert time.monotonic() < deadline, "the ServiceMonitor CRD was not served in time"
        time.sleep(0.5)


MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)


def registry_digest(registry: str, repository: str, reference: str) -> str:
    """The digest the registry reports for ``repository:reference`` (a tag or a digest)."""
    url = f"http://{registry}/v2/{repository}/manifests/{reference}"
    request = urllib.request.Request(url, method="HEAD", headers={"Accept": MANIFEST_TYPES})
    with urllib.request.urlopen(request, timeout=5) as resp:
        return str(resp.headers["Docker-Content-Digest"])


STAMP_INPUTS = ("requirements.txt", "constraints.txt", "worker_image/requirements.txt")


def make_project(
    workdir: Path, stack: str, edit: Callable[[dict[str, Any]], None] | None = None
) -> Path:
    """The kit project for ``stack`` with the Makefile, its mk/ files and the repo's venv."""
    project = local_stack.generate_project(workdir, stack, REPO_ROOT / f"Pulumi.{stack}.yaml", edit)
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


def without_pulumi_on_path(env: dict[str, str]) -> dict[str, str]:
    """``env`` as on a machine with no ``pulumi`` on PATH (backend, cluster and home kept)."""
    dirs = env["PATH"].split(os.pathsep)
    kept = [d for d in dirs if not (Path(d) / "pulumi").exists()]
    assert len(kept) < len(dirs), "the engine env must have had a pulumi on PATH"
    return {**env, "PATH": os.pathsep.join(kept)}


def run_make(
    engine: Engine, project: Path, args: list[str], env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Run a make command in the kit project; returns (exit code, combined output)."""
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
