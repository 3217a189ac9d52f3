"""Benchmark: ``pulumi up`` of 1 and 10 queues next to ``kubectl apply`` of the same objects.

    .venv/bin/python bench/bench_up.py [--queues 1,10] [--repeat 3]

Starts its own local control plane with the real node (kubelet + containerd; 3 kwok nodes stay
idle) in a temporary directory with warm tools (``tools/build.sh``), a temporary file backend, a
registry holding the worker image (built by the project's Docker engine) and a Temporal dev server
the pods reach through the node address: every worker pod really starts, connects and becomes
Ready. Per queue count:

* **pulumi**: the kit's program on a copy of ``Pulumi.preview.yaml`` (prebuilt image: no build)
  with N queues: ``pulumi up --yes --skip-preview`` (creates N x 6 objects and waits, as the
  provider does, until every Deployment is Available), the same again with nothing to change, then
  ``pulumi destroy``;
* **kubectl**: the very objects that program produces (rendered by the program under mocks,
  ``tests/infra/render.py``), in another namespace: ``kubectl apply -f`` then ``kubectl wait
  --for=condition=Available`` on the Deployments, the same apply again (nothing changes), then
  ``kubectl delete --wait``.

Prints a markdown table. kubectl is built from the Go module pinned in ``tools/kubectl`` (the
control plane's version, v1.35.4), or taken from the tools directory if tools/build.sh makes one.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.infra.harness import mocks_reset, run_program, stack_file_config  # noqa: E402
from tests.support.docker_engine import push_worker_image  # noqa: E402
from tests.support.temporal_dev import dev_server  # noqa: E402
from tools import local_node, local_stack, pulumi_env  # noqa: E402
from tools.local_cluster import LocalCluster  # noqa: E402
from tools.local_stack import generate_project  # noqa: E402

PROJECT = "temporal-workers"
BASE_STACK = "preview"


def queues(count: int) -> dict[str, Any]:
    """``count`` task queues served by the sample app's orders worker."""
    return {f"bench-q{i:02d}": {"app": "orders_app.queues:orders"} for i in range(count)}


@dataclass(frozen=True)
class Target:
    """Where the benchmark's workers run: the image they pull and the Temporal they reach."""

    image_ref: str
    temporal_address: str
    registry: str
    temporal_port: int


def worker_target(stack: contextlib.ExitStack, work: Path, version: str) -> Target:
    """A dev server and a registry holding the worker image, closed with ``stack``."""
    server = stack.enter_context(dev_server())
    registry_port = local_stack.free_port()
    registry = local_stack.start_registry(work / "registry", registry_port)
    stack.callback(local_stack.stop_pid, registry.pid)
    address = f"127.0.0.1:{registry_port}"
    ref = push_worker_image(address, "temporal-workers/worker", version)
    port = int(server.address.rsplit(":", 1)[1])
    return Target(ref, f"{local_node.NODE_IP}:{port}", address, port)


def serve_target(cluster: LocalCluster, target: Target) -> None:
    """Let the cluster's real node pull the image and reach Temporal."""
    node = cluster.node()
    node.trust_registry(target.registry)
    node.forward(target.temporal_port)


def bench_config(count: int, namespace: str, target: Target) -> dict[str, Any]:
    """The stack config (keys without the project prefix) for ``count`` queues on the real node."""
    config = stack_file_config(BASE_STACK)
    config["queues"] = queues(count)
    config["namespace"] = {"name": namespace}
    config["image"] = {"source": "prebuilt", "ref": target.image_ref}
    config["temporal"] = {"address": target.temporal_address, "namespace": "default"}
    config["defaults"]["nodeSelector"] = local_node.node_selector()
    config["defaults"]["tolerations"] = [local_node.toleration()]
    return config


def render(count: int, namespace: str, target: Target) -> list[dict[str, Any]]:
    """The Kubernetes objects the program produces for ``count`` queues (program under mocks)."""
    run = run_program(bench_config(count, namespace, target), stack="bench")
    mocks_reset()
    objects = []
    for reg in run.registrations:
        if reg.typ.startswith("kubernetes:") and "apiVersion" in reg.inputs:
            objects.append(_plain(reg.inputs))
    return objects


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def kubectl_binary(bin_dir: Path) -> str:
    """kubectl v1.35.4, built by ``tools/build.sh`` from the module pinned in ``tools/kubectl``."""
    return str(bin_dir / "kubectl")


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Run ``cmd``; return its wall time; exit with its output if it fails."""
    began = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    took = time.monotonic() - began
    if proc.returncode != 0:
        sys.exit(
            f"bench_up: {' '.join(cmd[:3])} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        )
    return took


def bench_pulumi(
    count: int, work: Path, env: dict[str, str], kubeconfig: Path, target: Target
) -> tuple[float, float, float]:
    """(up, up with nothing to change, destroy) seconds for ``count`` queues."""

    def edit(config: dict[str, Any]) -> None:
        config.clear()
        for key, value in bench_config(count, f"bench-pulumi-{count}", target).items():
            config[f"{PROJECT}:{key}"] = value
        config[f"{PROJECT}:kubernetes"] = {"kubeconfig": str(kubeconfig)}

    stack = f"bench{count}"
    project = generate_project(work / stack, stack, ROOT / f"Pulumi.{BASE_STACK}.yaml", edit)
    flags = ["--stack", stack, "--yes", "--skip-preview", "--non-interactive"]
    timed(["pulumi", "stack", "init", stack, "--non-interactive"], project, env)
    up = timed(["pulumi", "up", *flags], project, env)
    again = timed(["pulumi", "up", *flags], project, env)
    destroy = timed(["pulumi", "destroy", *flags], project, env)
    timed(["pulumi", "stack", "rm", "--stack", stack, "--yes", "--non-interactive"], project, env)
    return up, again, destroy


def bench_kubectl(
    count: int, work: Path, env: dict[str, str], binary: str, target: Target
) -> tuple[float, float, float, int]:
    """(apply + wait Available, apply unchanged, delete) seconds, and the object count."""
    namespace = f"bench-kubectl-{count}"
    objects = render(count, namespace, target)
    work.mkdir(parents=True, exist_ok=True)
    manifest = work / f"kubectl-{count}.yaml"
    manifest.write_text(yaml.safe_dump_all(objects, sort_keys=False))
    kubectl = [binary, f"--cache-dir={work / 'kube-cache'}"]
    began = time.monotonic()
    timed([*kubectl, "apply", "-f", str(manifest)], work, env)
    wait = [*kubectl, "wait", "--for=condition=Available", "deployment", "--all", "-n", namespace]
    timed([*wait, "--timeout=300s"], work, env)
    apply = time.monotonic() - began
    again = timed([*kubectl, "apply", "-f", str(manifest)], work, env)
    delete = timed([*kubectl, "delete", "-f", str(manifest), "--wait=true"], work, env)
    return apply, again, delete, len(objects)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queues", default="1,10", help="comma-separated queue counts")
    parser.add_argument("--repeat", type=int, default=3, help="runs per count; medians shown")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.queues.split(",")]

    bin_dir = pulumi_env.tools_bin(pulumi_env.build_tools(quiet=True))
    kubectl = kubectl_binary(bin_dir)
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="twk-bench-up-")))
        target = worker_target(stack, work, "bench-up")
        cluster = LocalCluster(work / "cluster", bin_dir=bin_dir)
        stack.callback(cluster.delete)
        cluster.start(nodes=3, zones=2, timeout=120, real_node=True)
        serve_target(cluster, target)
        cluster.node().pull_image(target.image_ref)  # both sides start pods from a present image
        env = pulumi_env.engine_env(bin_dir=bin_dir, backend_dir=work / "state")
        env["KUBECONFIG"] = str(cluster.kubeconfig)
        pulumi_env.install_plugins(env, bin_dir)
        version = subprocess.run(
            [kubectl, "version", "--client", "-o", "yaml"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        client = yaml.safe_load(version or "{}").get("clientVersion", {}).get("gitVersion")
        rows = []
        for count in counts:
            runs = []
            for run in range(args.repeat):
                p_up, p_again, p_destroy = bench_pulumi(
                    count, work / f"run{run}", env, cluster.kubeconfig, target
                )
                k_apply, k_again, k_delete, objects = bench_kubectl(
                    count, work / f"run{run}", env, kubectl, target
                )
                runs.append((p_up, k_apply, p_again, k_again, p_destroy, k_delete))
            medians = [statistics.median(column) for column in zip(*runs, strict=True)]
            rows.append((count, objects, *medians))

    print(f"kubectl {client} ({kubectl}); pods on the real node; 2 cores; warm tools;", end=" ")
    print(f"median of {args.repeat} runs")
    print()
    print(
        "| queues | objects | pulumi up (s) | kubectl apply + wait (s) | pulumi up, no changes (s) "
        "| kubectl apply, unchanged (s) | pulumi destroy (s) | kubectl delete (s) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for count, objects, *times in rows:
        cells = " | ".join(f"{t:.1f}" for t in times)
        print(f"| {count} | {objects} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
