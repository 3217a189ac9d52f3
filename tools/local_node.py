"""A real Kubernetes node for the local control plane: kubelet, containerd, runc and a CNI bridge.

The control plane's kwok nodes only pretend to run pods; this node runs them. ``LocalCluster``
starts it with ``real_node=True`` (``make up``, the e2e fixtures) and stops it first on ``stop``.

What runs and where (all on this machine, nothing routed beyond it):

- **kubelet** (built by ``tools/build.sh`` from the pinned Kubernetes module, the control plane's
  version) registers node ``twk-real-0`` labelled ``twk.local/node-kind=real`` and zone ``zone-a``,
  tainted ``twk.local/node-kind=real:NoSchedule`` (pods must select and tolerate it);
  it serves its API on the node address and its healthz on 127.0.0.1. It talks to the API server
  with the cluster's admin kubeconfig; the API server reaches it with a client certificate of the
  cluster's CA (anonymous requests are refused).
- **containerd** and **runc** (Debian's, which ``docker.io`` brings) with their own root, state,
  socket and runc root: nothing is shared with the Docker engine. Images are pulled from registries
  on 127.0.0.1 over plain HTTP (:meth:`RealNode.trust_registry`, :meth:`RealNode.pull_image`);
  the pod sandbox image is the kit's own ``pause`` (built from ``tools/pause``), imported, never
  pulled.
- **network**: bridge ``twk-br0`` with the node-side address ``10.250.0.1/24``; pods get
  ``10.250.0.10``-``10.250.0.250`` in network namespaces that containerd creates for them. The CNI
  bridge is no gateway, masquerades nothing and installs no route, so ``net.ipv4.ip_forward`` stays
  as it was and a pod reaches only its subnet ("Network is unreachable" anywhere else). Servers the
  pods need (the Temporal dev server) stay on 127.0.0.1 and are reached through a forwarder bound to
  the node address (:meth:`RealNode.forward`).

The kubelet changes host settings (``kernel.panic``, ``kernel.panic_on_oops``,
``vm.overcommit_memory``), adds ``KUBE-*`` iptables chains and writes a few fixed paths under
``/var/lib/kubelet``, ``/var/lib/cni`` and ``/var/log``; ``stop`` restores the recorded values and
removes what the node added: containers, mounts, cgroups, bridge, chains and state. One real node
per machine: it needs root, and its cgroups and host settings are the machine's.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BRIDGE = "twk-br0"
SUBNET = "10.250.0.0/24"
NODE_IP = "10.250.0.1"
POD_RANGE = ("10.250.0.10", "10.250.0.250")
NODE_NAME = "twk-real-0"
NODE_ZONE = "zone-a"
NODE_KIND_LABEL = "twk.local/node-kind"
NODE_KIND = "real"
CNI_NETWORK = "twk-pods"
PAUSE_IMAGE = "twk.local/pause:1"
# Short fixed paths: unix socket paths are limited to 108 bytes, and there is one node per machine.
RUNTIME_DIR = Path(os.environ.get("TWK_NODE_RUNTIME_DIR", "/run/twk-node"))
CNI_BIN_DIR = Path("/usr/lib/cni")
HOST_SYSCTLS = ("kernel.panic", "kernel.panic_on_oops", "vm.overcommit_memory")
# Written by the kubelet whatever its --root-dir, and by the CNI plugins (their result cache);
# removed on stop when the node created them.
NODE_HOST_PATHS = (
    Path("/var/lib/cni"),
    Path("/var/lib/kubelet"),
    Path("/var/log/containers"),
    Path("/var/log/pods"),
)
DEBIAN_PACKAGES = {
    "containerd": Path("/usr/bin/containerd"),
    "runc": Path("/usr/sbin/runc"),
    "containernetworking-plugins": CNI_BIN_DIR / "bridge",
}
NODE_COMPONENTS = ("containerd", "kubelet")


class NodeError(RuntimeError):
    """The real node could not be started or stopped."""


@dataclass(frozen=True)
class NodePorts:
    """The kubelet's ports (API on the node address, healthz on loopback)."""

    kubelet: int
    healthz: int


def node_selector() -> dict[str, str]:
    """The nodeSelector that places a pod on the real node."""
    return {NODE_KIND_LABEL: NODE_KIND}


def toleration() -> dict[str, str]:
    """The toleration of the real node's taint: only pods that ask for the node run there."""
    return {"key": NODE_KIND_LABEL, "operator": "Equal", "value": NODE_KIND, "effect": "NoSchedule"}


def _run(cmd: list[str], what: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise NodeError(f"{what} failed: {detail[-1] if detail else f'exit {proc.returncode}'}")
    return proc


def ensure_packages() -> None:
    """Install Debian's containerd, runc and CNI plugins when one is missing (needs root)."""
    missing = [name for name, path in DEBIAN_PACKAGES.items() if not path.exists()]
    if not missing:
        return
    print(f"local_node: installing Debian's {' '.join(missing)}", file=sys.stderr, flush=True)
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
    if subprocess.run(install, capture_output=True, check=False).returncode != 0:
        _run(["apt-get", "update", "-q"], "apt-get update")
        _run(install, f"apt-get install {' '.join(missing)}")


def pause_image_archive(pause_binary: Path) -> bytes:
    """A ``docker save`` archive of the sandbox image: ``pause`` alone, ``FROM scratch``."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        info = tarfile.TarInfo("pause")
        data = pause_binary.read_bytes()
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
    layer_bytes = layer.getvalue()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": ["/pause"], "User": "65535:65535"},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{_sha(layer_bytes)}"]},
    }
    config_bytes = json.dumps(config).encode()
    manifest = [{"Config": "config.json", "RepoTags": [PAUSE_IMAGE], "Layers": ["layer.tar"]}]
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for name, blob in (
            ("layer.tar", layer_bytes),
            ("config.json", config_bytes),
            ("manifest.json", json.dumps(manifest).encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return archive.getvalue()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def containerd_config(node_dir: Path) -> str:
    """containerd's config (version 2): its own paths, CRI tuned for this machine."""
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{node_dir / "containerd"}"
state = "{RUNTIME_DIR / "state"}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "{RUNTIME_DIR / "containerd.sock"}"
[ttrpc]
  address = "{RUNTIME_DIR / "containerd.sock.ttrpc"}"
[debug]
  address = ""
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{node_dir / "opt"}"
[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  # Streaming (exec, attach, port-forward) stays on loopback.
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  # Processes here lack CAP_SYS_RESOURCE: nothing may lower oom_score_adj.
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{RUNTIME_DIR / "runc"}"
  [{cri}.cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{node_dir / "cni" / "net.d"}"
    max_conf_num = 1
  [{cri}.registry]
    config_path = "{node_dir / "certs.d"}"
"""


def cni_config(node_dir: Path) -> dict[str, Any]:
    """The pod network: a bridge that is no gateway, no masquerade, no routes (see module doc)."""
    ipam = {
        "type": "host-local",
        "ranges": [[{"subnet": SUBNET, "rangeStart": POD_RANGE[0], "rangeEnd": POD_RANGE[1]}]],
        "dataDir": str(node_dir / "cni" / "ipam"),
    }
    bridge = {
        "type": "bridge",
        "bridge": BRIDGE,
        "isGateway": False,
        "isDefaultGateway": False,
        "ipMasq": False,
        "hairpinMode": False,
        "ipam": ipam,
    }
    return {"cniVersion": "0.4.0", "name": CNI_NETWORK, "plugins": [bridge, {"type": "loopback"}]}


def kubelet_config(node_dir: Path, ca_file: Path, ports: NodePorts) -> dict[str, Any]:
    """KubeletConfiguration for this machine (cgroup v1, no swap accounting, no cluster DNS)."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": NODE_IP,
        "port": ports.kubelet,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": ports.healthz,
        "containerRuntimeEndpoint": f"unix://{RUNTIME_DIR / 'containerd.sock'}",
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": False,
        "failSwapOn": False,
        "protectKernelDefaults": False,
        "resolvConf": "",
        "podLogsDir": str(node_dir / "pod-logs"),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(ca_file)},
        },
        "authorization": {"mode": "Webhook"},
        "serializeImagePulls": False,
        # Small disks and a busy machine must not evict the workers or collect the sandbox image.
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
            "nodefs.inodesFree": "1%",
        },
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "maxPods": 60,
        "shutdownGracePeriod": "0s",
        "nodeStatusUpdateFrequency": "5s",
        "syncFrequency": "10s",
    }


class RealNode:
    """The real node whose files live in ``directory`` (``<cluster dir>/node``).

    ``spawn(name, argv)`` starts and records a long-running process (the cluster's process
    bookkeeping); ``alive(name)`` says whether it still runs; ``kill(name)`` stops it.
    """

    def __init__(
        self,
        directory: Path,
        bin_dir: Path,
        spawn: Callable[[str, list[str]], int],
        alive: Callable[[str], bool],
        kill: Callable[[str], None],
    ) -> None:
        """See the class docstring."""
        self.dir = directory
        self.bin_dir = bin_dir
        self._spawn = spawn
        self._alive = alive
        self._kill = kill

    @property
    def socket(self) -> Path:
        """containerd's socket."""
        return RUNTIME_DIR / "containerd.sock"

    # -- start -------------------------------------------------------------------------------
    def start(self, kubeconfig: Path, ca_file: Path, ports: NodePorts, deadline: float) -> None:
        """Network, containerd (with the sandbox image), kubelet; returns once they run."""
        if os.geteuid() != 0:
            raise NodeError("the real node needs root (kubelet, containerd, a bridge)")
        for name in ("kubelet", "pause"):
            if not (self.bin_dir / name).is_file():
                raise NodeError(f"missing {self.bin_dir / name}; run make tools")
        ensure_packages()
        self._claim()
        self._record_host()
        self.dir.mkdir(parents=True, exist_ok=True)
        self._network()
        self._start_containerd(deadline)
        self._start_kubelet(kubeconfig, ca_file, ports)

    def _claim(self) -> None:
        """One node per machine: refuse when another cluster's node still runs."""
        RUNTIME_DIR.mkdir(parents=True, exist_ok=True)
        owner = RUNTIME_DIR / "owner"
        if owner.is_file():
            other = Path(owner.read_text().strip())
            if other != self.dir and _pids_of(str(RUNTIME_DIR / "containerd.sock")):
                raise NodeError(
                    f"a real node of another cluster ({other}) runs on this machine; "
                    "stop that cluster first (make down, or python -m tools.local_cluster stop)"
                )
        owner.write_text(str(self.dir))

    def _record_host(self) -> None:
        """What the kubelet will change, recorded once (an interrupted run keeps the original)."""
        record = RUNTIME_DIR / "host.json"
        if record.is_file():
            return
        host = {
            "sysctls": {key: _sysctl(key) for key in HOST_SYSCTLS},
            "chains": sorted(_kube_chains()),
            "paths": [str(p) for p in NODE_HOST_PATHS if p.exists()],
        }
        record.write_text(json.dumps(host, indent=2))

    def _network(self) -> None:
        if _run(["ip", "link", "show", BRIDGE], "ip link show", check=False).returncode != 0:
            _run(["ip", "link", "add", BRIDGE, "type", "bridge"], f"creating bridge {BRIDGE}")
        address = f"{NODE_IP}/{SUBNET.split('/')[1]}"
        shown = _run(["ip", "-4", "addr", "show", "dev", BRIDGE], "ip addr show").stdout
        if address not in shown:
            _run(["ip", "addr", "add", address, "dev", BRIDGE], f"adding {address} to {BRIDGE}")
        _run(["ip", "link", "set", BRIDGE, "up"], f"bringing {BRIDGE} up")
        conf = self.dir / "cni" / "net.d"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / f"10-{CNI_NETWORK}.conflist").write_text(json.dumps(cni_config(self.dir), indent=2))

    def _start_containerd(self, deadline: float) -> None:
        config = self.dir / "containerd.toml"
        config.write_text(containerd_config(self.dir))
        (self.dir / "certs.d").mkdir(exist_ok=True)
        self._spawn("containerd", ["/usr/bin/containerd", f"--config={config}"])
        while self._ctr(["version"], check=False).returncode != 0:
            if not self._alive("containerd"):
                raise NodeError("containerd exited at start; see its log in the cluster's logs/")
            if time.monotonic() > deadline:
                raise NodeError(f"containerd did not answer on {self.socket}")
            time.sleep(0.1)
        archive = self.dir / "pause-image.tar"
        archive.write_bytes(pause_image_archive(self.bin_dir / "pause"))
        self._ctr(["-n", "k8s.io", "images", "import", "--no-unpack", str(archive)])

    def _ctr(self, args: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run(["ctr", "--address", str(self.socket), *args], f"ctr {args[0]}", check=check)

    def _start_kubelet(self, kubeconfig: Path, ca_file: Path, ports: NodePorts) -> None:
        config = self.dir / "kubelet.json"
        config.write_text(json.dumps(kubelet_config(self.dir, ca_file, ports), indent=2))
        labels = {NODE_KIND_LABEL: NODE_KIND, "topology.kubernetes.io/zone": NODE_ZONE}
        self._spawn(
            "kubelet",
            [
                str(self.bin_dir / "kubelet"),
                f"--config={config}",
                f"--kubeconfig={kubeconfig}",
                f"--root-dir={self.dir / 'kubelet'}",
                f"--cert-dir={self.dir / 'kubelet-pki'}",
                f"--hostname-override={NODE_NAME}",
                f"--node-ip={NODE_IP}",
                "--node-labels=" + ",".join(f"{k}={v}" for k, v in labels.items()),
                # Pods of stacks without the toleration (kwok-scheduled tests) stay off it.
                f"--register-with-taints={NODE_KIND_LABEL}={NODE_KIND}:NoSchedule",
                "--v=1",
            ],
        )

    def trust_registry(self, address: str) -> None:
        """Let the node pull from the plain-HTTP registry at ``address`` (``127.0.0.1:PORT``)."""
        host = self.dir / "certs.d" / address
        host.mkdir(parents=True, exist_ok=True)
        (host / "hosts.toml").write_text(
            f'server = "http://{address}"\n\n'
            f'[host."http://{address}"]\n  capabilities = ["pull", "resolve"]\n'
        )

    def pull_image(self, ref: str) -> None:
        """Pull ``ref`` from a plain-HTTP registry on 127.0.0.1 into the node's image store."""
        self._ctr(["-n", "k8s.io", "images", "pull", "--plain-http", ref])

    def forward(self, port: int) -> None:
        """Make ``127.0.0.1:port`` reachable from pods at ``NODE_IP:port`` (idempotent)."""
        name = f"forward-{port}"
        if self._alive(name):
            return
        target = f"127.0.0.1:{port}"
        argv = [sys.executable, "-m", "tools.tcp_forward", f"{NODE_IP}:{port}", target]
        self._spawn(name, argv)

    def unforward(self, port: int) -> None:
        """Stop forwarding ``port`` (see :meth:`forward`)."""
        name = f"forward-{port}"
        if self._alive(name):
            self._kill(name)

    # -- stop --------------------------------------------------------------------------------
    def stop(self, names: list[str]) -> list[str]:
        """Stop the node's processes (``names``: forwarders among them) and undo what it changed.

        The kubelet goes first, so nothing restarts the containers that are then killed. Returns
        what was stopped.
        """
        stopped = []
        for name in ("kubelet", *[n for n in names if n.startswith("forward-")]):
            if self._alive(name):
                self._kill(name)
                stopped.append(name)
        self._remove_containers()
        if self._alive("containerd"):
            self._kill("containerd")
            stopped.append("containerd")
        # Forwarders a process of another interpreter started (not recognised as ours above).
        for pid in _pids_of(f"tools.tcp_forward\0{NODE_IP}:"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for pid in _pids_of(str(self.socket)):  # shims outlive containerd
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._unmount()
        _remove_cgroups()
        _run(["ip", "link", "del", BRIDGE], f"deleting {BRIDGE}", check=False)
        for result in Path("/var/lib/cni/results").glob(f"{CNI_NETWORK}-*"):
            result.unlink(missing_ok=True)
        self._restore_host()
        shutil.rmtree(RUNTIME_DIR, ignore_errors=True)
        return stopped

    def _remove_containers(self) -> None:
        """Every container of the node: through runc, then whatever its cgroups still hold."""
        # The runc v2 shim keeps each containerd namespace's containers under Root/<namespace>.
        for root in (RUNTIME_DIR / "runc").glob("*"):
            runc = ["runc", "--root", str(root)]
            ids = _run([*runc, "list", "-q"], "runc list", check=False).stdout.split()
            for cid in ids:
                _run([*runc, "kill", "--all", cid, "KILL"], "runc kill", check=False)
            for cid in ids:
                _run([*runc, "delete", "--force", cid], "runc delete", check=False)
        end = time.monotonic() + 10
        while (pids := _pod_pids()) and time.monotonic() < end:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)

    def _unmount(self) -> None:
        prefixes = (str(self.dir) + "/", str(RUNTIME_DIR) + "/")
        for target in sorted(_mounts(), key=len, reverse=True):
            if target.startswith(prefixes) or target in (str(self.dir), str(RUNTIME_DIR)):
                _run(["umount", "-l", target], f"umount {target}", check=False)

    def _restore_host(self) -> None:
        record = RUNTIME_DIR / "host.json"
        if not record.is_file():
            return
        host = json.loads(record.read_text())
        for key, value in host["sysctls"].items():
            if value is not None:
                _run(["sysctl", "-q", "-w", f"{key}={value}"], f"restoring {key}", check=False)
        _remove_chains(_kube_chains() - {(t, c) for t, c in host["chains"]})
        for path in NODE_HOST_PATHS:
            if str(path) not in host["paths"]:
                shutil.rmtree(path, ignore_errors=True)


def _remove_chains(chains: set[tuple[str, str]]) -> None:
    """Delete the (table, chain) iptables chains, and first the rules that jump to them."""
    names = {chain for _, chain in chains}
    for tool in ("iptables", "ip6tables"):
        table = ""
        for line in _run([f"{tool}-save"], f"{tool}-save", check=False).stdout.splitlines():
            if line.startswith("*"):
                table = line[1:]
            elif line.startswith("-A ") and shlex.split(line)[-1] in names:
                rule = shlex.split(line)[1:]
                _run([tool, "-t", table, "-D", *rule], f"{tool} -D", check=False)
        for table, chain in sorted(chains):
            _run([tool, "-t", table, "-F", chain], f"{tool} -F", check=False)
            _run([tool, "-t", table, "-X", chain], f"{tool} -X", check=False)


def _sysctl(key: str) -> str | None:
    proc = _run(["sysctl", "-n", key], f"sysctl {key}", check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def _kube_chains() -> set[tuple[str, str]]:
    """(table, chain) of every KUBE-* iptables chain (IPv4 and IPv6)."""
    chains = set()
    for tool in ("iptables-save", "ip6tables-save"):
        out = _run([tool], tool, check=False).stdout
        table = ""
        for line in out.splitlines():
            if line.startswith("*"):
                table = line[1:]
            elif line.startswith(":KUBE-"):
                chains.add((table, line[1:].split()[0]))
    return chains


def _mounts() -> list[str]:
    targets = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        targets.append(line.split()[4].replace("\\040", " "))
    return targets


def _pod_pids() -> list[int]:
    """Processes still in the pods' cgroups."""
    pids: set[int] = set()
    top = Path("/sys/fs/cgroup/pids/kubepods")
    if top.is_dir():
        for procs in top.rglob("cgroup.procs"):
            with contextlib.suppress(OSError, ValueError):
                pids.update(int(p) for p in procs.read_text().split())
    return sorted(pids)


def _remove_cgroups() -> None:
    """The pods' cgroups (``kubepods`` in every v1 hierarchy), deepest first."""
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        top = hierarchy / "kubepods"
        if not top.is_dir():
            continue
        dirs = [top, *(p for p in top.rglob("*") if p.is_dir())]
        for path in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                path.rmdir()


def _pids_of(needle: str) -> list[int]:
    """Processes whose command line contains ``needle``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if needle.encode() in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
    return pids
