"""Preview stacks for real: `python -m infra.preview` (through the make targets the CI workflows
run) with the built Pulumi CLI against the local control plane, checked through the Kubernetes API.

kwok plays the kubelets, so the arbitrary image digest of a preview stack still yields Running pods
and Available Deployments.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.preview.model import parse_duration, parse_stamp
from tests.e2e.helpers import Engine
from tests.support.ci_commands import (
    PREVIEW_DESTROY,
    PREVIEW_GC,
    PREVIEW_GC_TTL,
    PREVIEW_LIST,
    PREVIEW_UP,
    argv,
)

# A cold tools build on a fresh machine happens in the first e2e test's setup: allow for it.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3600)]

REPO = Path(__file__).resolve().parents[2]
LABEL = "preview.temporal-workers/"
QUEUES = {"orders", "billing", "shipments"}


def _run(
    engine: Engine, args: list[str], env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    proc = subprocess.run(
        args,
        cwd=REPO,
        env=env or engine.env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


def _ok(engine: Engine, args: list[str]) -> str:
    code, out, err = _run(engine, args)
    assert code == 0, f"{' '.join(args)} exited {code}:\n{out[-4000:]}\n{err[-4000:]}"
    return out


def _preview(*args: str) -> list[str]:
    return [sys.executable, "-m", "infra.preview", *args]


def _get(engine: Engine, path: str) -> tuple[int, Any]:
    return engine.cluster.api("GET", path)


def _wait_gone(engine: Engine, path: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _get(engine, path)[0] == 404:
            return
        time.sleep(0.5)
    raise AssertionError(f"{path} still exists {timeout} s after the preview stack was destroyed")


def _stack_names(engine: Engine) -> list[str]:
    code, out, err = _run(engine, ["pulumi", "stack", "ls", "--json", "--non-interactive"])
    assert code == 0, err
    return [s["name"] for s in json.loads(out)]


def _new_pr() -> int:
    """A PR number no real PR of a test run uses (keeps stack files apart from a developer's)."""
    return 900_000_000 + uuid.uuid4().int % 99_999_999


@pytest.fixture
def pr(engine: Engine) -> Iterator[int]:
    """A fresh PR number; its stack, stack file and namespace are gone after the test."""
    number = _new_pr()
    yield number
    if f"pr-{number}" in _stack_names(engine):
        _run(engine, _preview("destroy", str(number)))
    (REPO / f"Pulumi.pr-{number}.yaml").unlink(missing_ok=True)
    _wait_gone(engine, f"/api/v1/namespaces/temporal-workers-pr-{number}")


def _digest_ref(seed: str) -> str:
    return (
        "registry.invalid/temporal-workers/worker@sha256:"
        + hashlib.sha256(seed.encode()).hexdigest()
    )


def _deployments(engine: Engine, namespace: str) -> list[dict[str, Any]]:
    status, body = _get(engine, f"/apis/apps/v1/namespaces/{namespace}/deployments")
    assert status == 200, body
    return list(body["items"])


def _wait_replicas(engine: Engine, namespace: str, count: int, timeout: float = 90.0) -> None:
    """Every Deployment has ``count`` available replicas (the HPA lifts them to minReplicas)."""
    deadline = time.monotonic() + timeout
    while True:
        have = {
            d["metadata"]["name"]: d["status"].get("availableReplicas")
            for d in _deployments(engine, namespace)
        }
        if set(have.values()) == {count}:
            return
        assert time.monotonic() < deadline, f"available replicas after {timeout} s: {have}"
        time.sleep(1.0)


def test_preview_stack_lifecycle(engine: Engine, pr: int) -> None:
    """up creates the namespace with TTL labels and Available Deployments; a re-run changes
    nothing; list shows its age; gc keeps it until it is older than the TTL, then destroys it."""
    namespace = f"temporal-workers-pr-{pr}"
    image_ref = _digest_ref(f"pr-{pr}")
    up = argv(PREVIEW_UP, pr=str(pr), image_ref=image_ref)

    started = time.monotonic()
    first = _ok(engine, up)
    took_first = time.monotonic() - started
    assert f"pr-{pr}: deploying to namespace {namespace}" in first
    assert re.search(r"^  \+ Namespace \S+  created \(", first, re.M), first
    assert re.search(r"^  \+ Deployment \S+  created \(", first, re.M), first
    assert "queues: billing, orders, shipments" in first

    status, ns = _get(engine, f"/api/v1/namespaces/{namespace}")
    assert status == 200, ns
    labels = ns["metadata"]["labels"]
    assert labels[f"{LABEL}pr"] == str(pr)
    assert labels[f"{LABEL}ttl"] == "3d"  # the default TTL, 72h
    created, expires = (
        parse_stamp(labels[f"{LABEL}created-at"]),
        parse_stamp(labels[f"{LABEL}expires-at"]),
    )
    assert expires - created == timedelta(hours=72)
    assert labels["app.kubernetes.io/instance"] == f"pr-{pr}"

    deployments = _deployments(engine, namespace)
    assert {d["metadata"]["labels"]["temporal.io/task-queue"] for d in deployments} == QUEUES
    for deployment in deployments:
        containers = deployment["spec"]["template"]["spec"]["containers"]
        assert containers[0]["image"] == image_ref
        conditions = {c["type"]: c["status"] for c in deployment["status"]["conditions"]}
        assert conditions.get("Available") == "True", deployment["status"]
    _wait_replicas(engine, namespace, 2)
    generations = {
        d["metadata"]["name"]: d["metadata"]["generation"] for d in _deployments(engine, namespace)
    }

    started = time.monotonic()
    second = _ok(engine, up)
    took_second = time.monotonic() - started
    assert f"pr-{pr}: up to date in namespace {namespace} (no changes)" in second, second
    assert not re.search(r"^  [+~-]", second, re.M), f"a re-run changed resources:\n{second}"
    again = _get(engine, f"/api/v1/namespaces/{namespace}")[1]["metadata"]["labels"]
    assert again == labels
    assert {
        d["metadata"]["name"]: d["metadata"]["generation"] for d in _deployments(engine, namespace)
    } == (generations)

    listing = _ok(engine, argv(PREVIEW_LIST))
    row = next(line for line in listing.splitlines() if line.startswith(f"pr-{pr} "))
    assert re.match(
        rf"pr-{pr}\s+{namespace}\s+(\d+[smhd])+\s+3d\s+in 2d23h\s+\d+\s+{re.escape(image_ref)}$",
        row,
    ), listing
    code, out, err = _run(engine, _preview("list", "--json"))
    assert code == 0, err
    entry = next(e for e in json.loads(out) if e["stack"] == f"pr-{pr}")
    assert parse_duration(entry["age"]) < timedelta(minutes=30)
    assert entry["resources"] != "0"

    kept = _ok(engine, argv(PREVIEW_GC))
    assert f"pr-{pr}" not in kept.splitlines()[0], kept
    assert _get(engine, f"/api/v1/namespaces/{namespace}")[0] == 200

    time.sleep(1.5)
    collected = _ok(engine, argv(PREVIEW_GC_TTL, ttl="1s"))
    assert f"pr-{pr}: destroying namespace {namespace}" in collected, collected
    assert re.search(r"^  - Deployment \S+  deleted \(", collected, re.M), collected
    _wait_gone(engine, f"/api/v1/namespaces/{namespace}")
    assert f"pr-{pr}" not in _stack_names(engine)
    assert not (REPO / f"Pulumi.pr-{pr}.yaml").exists()
    print(f"\npreview up: {took_first:.1f}s first, {took_second:.1f}s re-run")


def test_preview_destroy_removes_stack_and_namespace(engine: Engine, pr: int) -> None:
    """destroy after up: namespace and workloads gone (checked through the API), stack removed."""
    namespace = f"temporal-workers-pr-{pr}"
    _ok(engine, argv(PREVIEW_UP, pr=str(pr), image_ref=_digest_ref(f"d-{pr}")))
    assert len(_deployments(engine, namespace)) == len(QUEUES)
    out = _ok(engine, argv(PREVIEW_DESTROY, pr=str(pr)))
    assert f"pr-{pr}: destroyed (" in out and "stack removed" in out, out
    _wait_gone(engine, f"/api/v1/namespaces/{namespace}")
    assert f"pr-{pr}" not in _stack_names(engine)
    assert not (REPO / f"Pulumi.pr-{pr}.yaml").exists()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _one_line_error(code: int, out: str, err: str, expected_code: int, text: str) -> None:
    assert code == expected_code, (code, out, err)
    assert err.startswith("preview: ") and text in err, err
    assert err.count("\n") == 1 and "Traceback" not in err, err


def test_bad_input_gives_one_line_errors(engine: Engine, tmp_path: Path) -> None:
    """Bad PR number, missing stack, unreachable cluster and no CLI: one line, non-zero exit."""
    pr = _new_pr()
    _one_line_error(*_run(engine, _preview("up", "12x")), 2, "bad PR number '12x'")
    _one_line_error(*_run(engine, _preview("destroy", "0")), 2, "bad PR number '0'")
    _one_line_error(
        *_run(engine, _preview("destroy", str(pr))), 1, f"no preview stack pr-{pr} (preview stacks:"
    )

    kubeconfig = yaml.safe_load(Path(engine.env["KUBECONFIG"]).read_text())
    port = _closed_port()
    for cluster in kubeconfig["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{port}"
    broken = tmp_path / "kubeconfig"
    broken.write_text(yaml.safe_dump(kubeconfig))
    env = {**engine.env, "KUBECONFIG": str(broken)}
    _one_line_error(
        *_run(engine, _preview("up", str(pr)), env=env),
        1,
        f"cluster unreachable: https://127.0.0.1:{port} (kubeconfig {broken}): Connection refused",
    )
    assert f"pr-{pr}" not in _stack_names(engine), "a failed pre-flight must not create the stack"
    assert not (REPO / f"Pulumi.pr-{pr}.yaml").exists()

    no_cli = {
        **engine.env,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
    }
    _one_line_error(*_run(engine, _preview("list"), env=no_cli), 1, "pulumi CLI not found on PATH")
