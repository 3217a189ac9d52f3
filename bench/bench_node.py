"""Benchmark: the real node of the local control plane (start, pods to Ready, memory).

    .venv/bin/python bench/bench_node.py [--repeat 3]

Per run, in a temporary directory with warm tools: the control plane alone (3 kwok nodes), then
the same with the real node (kubelet + containerd + CNI bridge), the difference being the node's
start; the worker image's pull from a local registry; a pod of the kit's ``pause`` image
(imported) from creation to Ready; one queue of the kit's program (2 worker pods, Temporal reached
through the node address) from ``kubectl apply`` to Available; the resident memory of the node's
processes with those 2 workers running; ``stop`` (teardown of the node included). Prints a
markdown table of medians.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_up import Target, render, serve_target, worker_target  # noqa: E402
from tools import local_node, pulumi_env  # noqa: E402
from tools.local_cluster import LocalCluster  # noqa: E402

PAUSE_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "bench-pause", "namespace": "default"},
    "spec": {
        "nodeSelector": local_node.node_selector(),
        "tolerations": [local_node.toleration()],
        "containers": [
            {
                "name": "pause",
                "image": local_node.PAUSE_IMAGE,
                "imagePullPolicy": "Never",
                "securityContext": {
                    "runAsNonRoot": True,
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
            }
        ],
    },
}


def rss_mib(needles: dict[str, str]) -> dict[str, float]:
    """Resident memory (MiB) summed over the processes whose command line contains each needle."""
    totals = dict.fromkeys(needles, 0.0)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            status = (proc / "status").read_text()
            lines = status.splitlines()
            rss = next((int(ln.split()[1]) for ln in lines if ln.startswith("VmRSS")), 0)
            for name, needle in needles.items():
                if needle in cmdline:
                    totals[name] += rss / 1024
                    break
    return totals


def kubectl(cluster: LocalCluster, *args: str, stdin: str | None = None) -> None:
    """Run kubectl against ``cluster``; exit with its output when it fails."""
    proc = subprocess.run(
        [str(pulumi_env.tools_bin() / "kubectl"), f"--kubeconfig={cluster.kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"bench_node: kubectl {' '.join(args[:2])} failed: {proc.stderr[-2000:]}")


def one_run(work: Path, target: Target) -> dict[str, float]:
    """One start / pods / memory / stop cycle; seconds and MiB by column."""
    result: dict[str, float] = {}
    bare = LocalCluster(work / "bare")
    began = time.monotonic()
    bare.start(nodes=3, zones=2, timeout=120)
    result["control plane start (s)"] = time.monotonic() - began
    bare.delete()

    cluster = LocalCluster(work / "real")
    try:
        began = time.monotonic()
        cluster.start(nodes=3, zones=2, timeout=120, real_node=True)
        result["with the real node (s)"] = time.monotonic() - began
        serve_target(cluster, target)
        began = time.monotonic()
        cluster.node().pull_image(target.image_ref)
        result["worker image pull (s)"] = time.monotonic() - began

        began = time.monotonic()
        kubectl(cluster, "apply", "-f", "-", stdin=yaml.safe_dump(PAUSE_POD))
        kubectl(cluster, "wait", "--for=condition=Ready", "pod/bench-pause", "--timeout=120s")
        result["pause pod to Ready (s)"] = time.monotonic() - began

        manifest = yaml.safe_dump_all(render(1, "bench-node", target), sort_keys=False)
        began = time.monotonic()
        kubectl(cluster, "apply", "-f", "-", stdin=manifest)
        kubectl(
            cluster, "wait", "--for=condition=Available", "deployment", "--all",
            "-n", "bench-node", "--timeout=300s",
        )  # fmt: skip
        result["2 worker pods to Available (s)"] = time.monotonic() - began
        time.sleep(2)
        memory = rss_mib(
            {
                "kubelet": f"{cluster.dir}/node/kubelet.json",
                "containerd": "containerd.toml",
                "shims": "containerd-shim-runc-v2",
                "workers": "-m workerkit",
            }
        )
        for name, mib in memory.items():
            result[f"{name} RSS (MiB)"] = mib
    finally:
        began = time.monotonic()
        cluster.delete()
        result["stop + teardown (s)"] = time.monotonic() - began
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs; medians shown")
    args = parser.parse_args(argv)
    pulumi_env.build_tools(quiet=True)
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="twk-bench-node-")))
        target = worker_target(stack, work, "bench-node")
        runs = [one_run(work / f"run{run}", target) for run in range(args.repeat)]
    print(
        f"the real node: kubelet v1.35.4, containerd 1.6 (Debian); 2 cores; median of {args.repeat}"
    )
    print()
    print("| measure | median | min | max |")
    print("|---|---:|---:|---:|")
    for key in runs[0]:
        values = [r[key] for r in runs]
        print(
            f"| {key} | {statistics.median(values):.1f} | {min(values):.1f} | {max(values):.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
