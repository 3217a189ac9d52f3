"""Smoke tests: the real Pulumi CLI, providers and policy-pack launch against the local cluster."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import POLICY_PACK_DIR, Engine

# A cold tools build on a fresh machine happens in the first test's setup: allow for it.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3600)]


def _get(engine: Engine, path: str) -> tuple[int, Any]:
    return engine.cluster.api("GET", path)


def _wait_gone(engine: Engine, path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _get(engine, path)[0] == 404:
            return
        time.sleep(0.5)
    raise AssertionError(f"{path} still exists {timeout} s after pulumi destroy")


def test_cluster_has_zoned_kwok_nodes(engine: Engine) -> None:
    """Three Ready kwok nodes spread over two zones, with hostname labels."""
    status, body = _get(engine, "/api/v1/nodes")
    assert status == 200
    nodes = body["items"]
    assert len(nodes) >= 3
    zones = {n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in nodes}
    assert len(zones) >= 2
    for node in nodes:
        assert node["metadata"]["labels"]["kubernetes.io/hostname"] == node["metadata"]["name"]
    assert len(engine.cluster.ready_nodes()) >= 3
    version = _get(engine, "/version")[1]
    assert version["major"] == "1" and int(version["minor"].rstrip("+")) >= 30, version


def test_preview_up_destroy(engine: Engine, tmp_path: Path) -> None:
    """preview and up create a Namespace and an Available Deployment; destroy removes them."""
    program = engine.new_stack("workload", tmp_path)
    namespace = f"twk-e2e-{uuid.uuid4().hex[:8]}"
    engine.ok(["config", "set", "namespace", namespace], program)

    preview = engine.ok(["preview", "--diff"], program)
    assert "kubernetes:core/v1:Namespace" in preview
    assert "kubernetes:apps/v1:Deployment" in preview
    assert _get(engine, f"/api/v1/namespaces/{namespace}")[0] == 404, "preview changed the cluster"

    engine.ok(["up", "--yes", "--skip-preview"], program)
    deploy_path = f"/apis/apps/v1/namespaces/{namespace}/deployments/web"
    status, deployment = _get(engine, deploy_path)
    assert status == 200
    conditions = {c["type"]: c["status"] for c in deployment["status"]["conditions"]}
    assert conditions.get("Available") == "True", deployment["status"]
    assert deployment["status"].get("availableReplicas") == 2
    _, pods = _get(engine, f"/api/v1/namespaces/{namespace}/pods")
    assert len(pods["items"]) == 2
    assert all(p["spec"]["nodeName"].startswith("twk-node-") for p in pods["items"])
    outputs = json.loads(engine.ok(["stack", "output", "--json"], program))
    assert outputs == {"namespace": namespace, "ready_replicas": 2}

    engine.ok(["destroy", "--yes", "--skip-preview"], program)
    _wait_gone(engine, deploy_path)
    _wait_gone(engine, f"/api/v1/namespaces/{namespace}")
    engine.ok(["stack", "rm", "--yes"], program)


def test_policy_pack_launched_by_engine(engine: Engine, tmp_path: Path) -> None:
    """The engine launches the Python policy pack; its mandatory policy fails the preview."""
    program = engine.new_stack("workload", tmp_path)
    engine.ok(["config", "set", "namespace", "twk-e2e-policy"], program)
    pack = ["--policy-pack", str(POLICY_PACK_DIR)]

    passing = engine.ok(["preview", *pack], program)
    assert "twk-e2e-policies" in passing

    engine.ok(["config", "set", "image", "registry.invalid/twk/web:latest"], program)
    code, out = engine.run(["preview", *pack], program)
    assert code != 0, out
    assert "twk-e2e-no-latest-image" in out, out
    assert "uses a ':latest' image; pin a version" in out, out
    assert _get(engine, "/api/v1/namespaces/twk-e2e-policy")[0] == 404
    engine.ok(["stack", "rm", "--yes", "--force"], program)
