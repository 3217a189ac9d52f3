"""A local Kubernetes control plane on 127.0.0.1 with kwok nodes, for e2e tests and make targets.

``python -m tools.local_cluster start|stop|status|delete [--dir DIR]``

``start`` runs etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (binaries from
``tools/build.sh``), each bound to 127.0.0.1 on a free port, registers fake nodes spread over zones
(labels ``topology.kubernetes.io/zone`` and ``kubernetes.io/hostname``), waits until the nodes are
Ready and the controllers work, and writes ``DIR/kubeconfig``. kwok plays the kubelets: pods that
the scheduler binds to its nodes become Running and Ready, so Deployments become Available.

With ``--real-node`` (what ``make up`` and the e2e fixtures use) it also starts a real node
(``tools/local_node.py``: kubelet, containerd, runc, a CNI bridge on this machine only): pods with
the nodeSelector ``twk.local/node-kind=real`` really run there.

State (certificates, tokens, etcd data, logs, pids) lives in DIR, by default ``.cache/cluster`` in
the repo (git-ignored), or ``$TWK_CLUSTER_DIR``. ``stop`` ends the processes and keeps the data;
``delete`` stops and removes DIR.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tools import local_node
from tools.local_node import NodeError, NodePorts, RealNode
from tools.pulumi_env import REPO_ROOT, ToolsError, tools_bin

DEFAULT_DIR = REPO_ROOT / ".cache" / "cluster"
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
KWOK_ANNOTATION = "kwok.x-k8s.io/node"
SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"


class ClusterError(RuntimeError):
    """The local cluster could not be started, stopped or queried."""


@dataclass
class ClusterState:
    """What ``start`` records in ``DIR/state.json``."""

    bin_dir: str
    ports: dict[str, int]
    token: str
    pids: dict[str, int] = field(default_factory=dict)
    real_node: bool = False

    @property
    def server(self) -> str:
        """The API server URL."""
        return f"https://127.0.0.1:{self.ports['apiserver']}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _openssl(cwd: Path, *args: str) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ClusterError(f"openssl {args[0]} failed: {proc.stderr.strip()[-400:]}")


def _make_pki(pki: Path) -> None:
    """A CA, the API server's serving certificate and the service-account signing key."""
    if (pki / "apiserver.crt").is_file():
        return
    pki.mkdir(parents=True, exist_ok=True)
    rsa = ("-newkey", "rsa:2048", "-nodes")
    _openssl(pki, "req", "-x509", *rsa, "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650",
             "-subj", "/CN=twk-local-ca")  # fmt: skip
    _openssl(pki, "req", *rsa, "-keyout", "apiserver.key", "-out", "apiserver.csr",
             "-subj", "/CN=kube-apiserver")  # fmt: skip
    sans = ["IP:127.0.0.1", f"IP:{SERVICE_IP}", "DNS:localhost", "DNS:kubernetes"]
    sans += ["DNS:kubernetes.default", "DNS:kubernetes.default.svc"]
    sans += ["DNS:kubernetes.default.svc.cluster.local"]
    (pki / "apiserver.ext").write_text("subjectAltName=" + ",".join(sans) + "\n")
    _openssl(pki, "x509", "-req", "-in", "apiserver.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "apiserver.crt", "-days", "3650",
             "-extfile", "apiserver.ext")  # fmt: skip
    _openssl(pki, "genrsa", "-out", "sa.key", "2048")
    _openssl(pki, "rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub")


def _make_kubelet_client_cert(pki: Path) -> None:
    """The API server's client certificate for the kubelets (logs, exec): admin, of the CA."""
    if (pki / "kubelet-client.crt").is_file():
        return
    _openssl(pki, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "kubelet-client.key",
             "-out", "kubelet-client.csr",
             "-subj", "/O=system:masters/CN=kube-apiserver-kubelet-client")  # fmt: skip
    _openssl(pki, "x509", "-req", "-in", "kubelet-client.csr", "-CA", "ca.crt",
             "-CAkey", "ca.key", "-CAcreateserial", "-out", "kubelet-client.crt",
             "-days", "3650")  # fmt: skip


def _kubeconfig(state: ClusterState, ca: Path) -> dict[str, Any]:
    cluster = {"server": state.server, "certificate-authority": str(ca)}
    context = {"cluster": "twk-local", "user": "twk-admin"}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "twk-local", "cluster": cluster}],
        "users": [{"name": "twk-admin", "user": {"token": state.token}}],
        "contexts": [{"name": "twk-local", "context": context}],
        "current-context": "twk-local",
    }


class LocalCluster:
    """Start, stop and query the local control plane whose state lives in ``directory``."""

    def __init__(self, directory: Path = DEFAULT_DIR, bin_dir: Path | None = None) -> None:
        """``bin_dir`` defaults to the built tools' ``bin/`` (see tools/build.sh)."""
        self.dir = directory.resolve()
        self._bin_dir = bin_dir

    # -- paths and state ----------------------------------------------------------------------
    @property
    def kubeconfig(self) -> Path:
        """Path of the admin kubeconfig (written by :meth:`start`)."""
        return self.dir / "kubeconfig"

    @property
    def state_file(self) -> Path:
        """Path of the recorded state."""
        return self.dir / "state.json"

    def load_state(self) -> ClusterState | None:
        """The recorded state, or None if the cluster was never started here."""
        if not self.state_file.is_file():
            return None
        data = json.loads(self.state_file.read_text())
        return ClusterState(**data)

    def _save_state(self, state: ClusterState) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2))
        tmp.replace(self.state_file)

    # -- API access ---------------------------------------------------------------------------
    def _ssl(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.dir / "pki" / "ca.crt"))

    def api(
        self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float = 5.0
    ) -> tuple[int, Any]:
        """Call the API server as admin; returns (HTTP status, decoded JSON or text)."""
        state = self.load_state()
        if state is None:
            raise ClusterError(f"no cluster state in {self.dir}; run start first")
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(state.server + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {state.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self._ssl()) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        text = raw.decode(errors="replace")
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def watch(self, path: str, timeout: float = 3600.0) -> Iterator[dict[str, Any]]:
        """The events of ``GET path?watch=1`` (``{"type": ..., "object": ...}``) as they come."""
        state = self.load_state()
        if state is None:
            raise ClusterError(f"no cluster state in {self.dir}; run start first")
        sep = "&" if "?" in path else "?"
        req = urllib.request.Request(f"{state.server}{path}{sep}watch=1")
        req.add_header("Authorization", f"Bearer {state.token}")
        with urllib.request.urlopen(req, timeout=timeout, context=self._ssl()) as resp:
            for line in resp:
                if line.strip():
                    yield json.loads(line)

    # -- processes ----------------------------------------------------------------------------
    @staticmethod
    def _alive(pid: int, binary: str) -> bool:
        """Is ``pid`` a live (not zombie) process running ``binary``?"""
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
        except OSError:
            return False
        if stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X"):
            return False
        # cmdline reads empty for a moment while a process starts; a reused pid shows another name.
        return not argv0 or Path(argv0).name == binary

    def running(self) -> dict[str, bool]:
        """Which components have a live process (the real node's too, when it has one)."""
        state = self.load_state()
        pids = state.pids if state else {}
        names = COMPONENTS + (local_node.NODE_COMPONENTS if state and state.real_node else ())
        return {c: c in pids and self._alive(pids[c], _binary(c)) for c in names}

    def _spawn(self, state: ClusterState, name: str, args: list[str]) -> None:
        self._spawn_argv(state, name, [str(Path(state.bin_dir) / name), *args])

    def _spawn_argv(self, state: ClusterState, name: str, argv: list[str]) -> int:
        logs = self.dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
        with (logs / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                env=env,
                start_new_session=True,
            )
        state.pids[name] = proc.pid
        self._save_state(state)
        return proc.pid

    def _stop_component(self, state: ClusterState, name: str, grace: float = 10.0) -> bool:
        """SIGTERM the component's process group, SIGKILL after ``grace``; True if it ran."""
        pid = state.pids.get(name)
        if pid is None or not self._alive(pid, _binary(name)):
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        end = time.monotonic() + grace
        while self._alive(pid, _binary(name)) and time.monotonic() < end:
            _reap(pid)
            time.sleep(0.1)
        if self._alive(pid, _binary(name)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        _reap(pid)
        return True

    def node(self) -> RealNode:
        """The real node of this cluster (whether or not it runs)."""
        state = self.load_state()
        if state is None:
            raise ClusterError(f"no cluster state in {self.dir}; run start first")

        def spawn(name: str, argv: list[str]) -> int:
            current = self.load_state()
            assert current is not None
            return self._spawn_argv(current, name, argv)

        def alive(name: str) -> bool:
            current = self.load_state()
            pid = current.pids.get(name) if current else None
            return pid is not None and self._alive(pid, _binary(name))

        def kill(name: str) -> None:
            current = self.load_state()
            assert current is not None
            self._stop_component(current, name, grace=15.0)
            current.pids.pop(name, None)
            self._save_state(current)

        return RealNode(self.dir / "node", Path(state.bin_dir), spawn, alive, kill)

    def _log_tail(self, name: str, lines: int = 15) -> str:
        path = self.dir / "logs" / f"{name}.log"
        if not path.is_file():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def _wait(self, what: str, check: Any, deadline: float, component: str) -> None:
        while time.monotonic() < deadline:
            if not self.running()[component]:
                raise ClusterError(
                    f"{component} exited while waiting for {what}; "
                    f"log {self.dir / 'logs' / (component + '.log')}:\n{self._log_tail(component)}"
                )
            with contextlib.suppress(OSError, urllib.error.URLError, ClusterError):
                if check():
                    return
            time.sleep(0.25)
        raise ClusterError(f"timed out waiting for {what}:\n{self._log_tail(component)}")

    # -- start / stop -------------------------------------------------------------------------
    def start(
        self, nodes: int = 3, zones: int = 2, timeout: float = 60.0, *, real_node: bool = False
    ) -> ClusterState:
        """Start every component (idempotent) and wait until the cluster is usable.

        ``real_node`` adds the real node (see ``tools/local_node.py``); a running cluster without
        one is restarted with one.
        """
        if nodes < 1 or zones < 1:
            raise ClusterError("--nodes and --zones must be at least 1")
        deadline = time.monotonic() + timeout
        current = self.load_state()
        if all(self.running().values()) and current and (current.real_node or not real_node):
            self._wait_usable(nodes, deadline, real_node=current.real_node)
            return current
        self.stop()  # a partial start: begin again from a clean set of processes
        bin_dir = self._bin_dir or tools_bin()
        missing = [c for c in (*COMPONENTS, "kwok-stages.yaml") if not (bin_dir / c).is_file()]
        if missing:
            raise ClusterError(f"missing {', '.join(missing)} in {bin_dir}; run make tools")
        self.dir.mkdir(parents=True, exist_ok=True)
        pki = self.dir / "pki"
        _make_pki(pki)
        _make_kubelet_client_cert(pki)
        old = self.load_state()
        token = old.token if old else secrets.token_hex(24)
        names = ("etcd", "etcd_peer", "apiserver", "kcm", "sched", "kwok", "kubelet", "healthz")
        ports = {p: _free_port() for p in names}
        state = ClusterState(bin_dir=str(bin_dir), ports=ports, token=token, real_node=real_node)
        self._save_state(state)
        (self.dir / "tokens.csv").write_text(f'{token},twk-admin,twk-admin,"system:masters"\n')
        self.kubeconfig.write_text(json.dumps(_kubeconfig(state, pki / "ca.crt"), indent=2))
        self.kubeconfig.chmod(0o600)
        kc = str(self.kubeconfig)

        etcd_url = f"http://127.0.0.1:{ports['etcd']}"
        peer_url = f"http://127.0.0.1:{ports['etcd_peer']}"
        self._spawn(
            state,
            "etcd",
            [
                "--name=twk",
                f"--data-dir={self.dir / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=twk={peer_url}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )
        self._wait("etcd health", lambda: _http_ok(etcd_url + "/health"), deadline, "etcd")

        self._spawn(
            state,
            "kube-apiserver",
            [
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={ports['apiserver']}",
                f"--cert-dir={self.dir / 'apiserver-certs'}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--token-auth-file={self.dir / 'tokens.csv'}",
                "--authorization-mode=Node,RBAC",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                # Reach kubelets by address: resolving a node's name would ask the machine's DNS.
                "--kubelet-preferred-address-types=InternalIP,Hostname",
                f"--kubelet-client-certificate={pki / 'kubelet-client.crt'}",
                f"--kubelet-client-key={pki / 'kubelet-client.key'}",
                "--allow-privileged=true",
                "--profiling=false",
                "--v=1",
            ],
        )
        self._wait(
            "kube-apiserver /readyz",
            lambda: self.api("GET", "/readyz")[0] == 200,
            deadline,
            "kube-apiserver",
        )
        common = [
            f"--kubeconfig={kc}",
            f"--authentication-kubeconfig={kc}",
            f"--authorization-kubeconfig={kc}",
            "--bind-address=127.0.0.1",
            "--leader-elect=false",
            "--profiling=false",
            "--v=1",
        ]
        self._spawn(
            state,
            "kube-controller-manager",
            [
                *common,
                f"--secure-port={ports['kcm']}",
                f"--cert-dir={self.dir / 'kcm-certs'}",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                "--use-service-account-credentials=false",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--controllers=*,-nodeipam",
            ],
        )
        self._spawn(
            state,
            "kube-scheduler",
            [*common, f"--secure-port={ports['sched']}", f"--cert-dir={self.dir / 'sched-certs'}"],
        )
        self._spawn(
            state,
            "kwok",
            [
                f"--kubeconfig={kc}",
                f"--config={bin_dir / 'kwok-stages.yaml'}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={KWOK_ANNOTATION}=fake",
                "--cidr=10.244.0.0/16",
                "--node-ip=10.240.0.1",
                "--node-lease-duration-seconds=40",
                f"--server-address=127.0.0.1:{ports['kwok']}",
            ],
        )
        self._register_nodes(nodes, zones)
        if real_node:
            node_ports = NodePorts(kubelet=ports["kubelet"], healthz=ports["healthz"])
            try:
                self.node().start(self.kubeconfig, pki / "ca.crt", node_ports, deadline)
            except NodeError as exc:
                raise ClusterError(f"real node: {exc}") from exc
        self._wait_usable(nodes, deadline, real_node=real_node)
        return state

    def _register_nodes(self, count: int, zones: int) -> None:
        for i in range(count):
            name = f"twk-node-{i}"
            zone = f"zone-{chr(ord('a') + i % zones)}"
            resources = {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"}
            node = {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "annotations": {KWOK_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
                    "labels": {
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "topology.kubernetes.io/zone": zone,
                        "topology.kubernetes.io/region": "local",
                        "type": "kwok",
                    },
                },
                "status": {"allocatable": resources, "capacity": resources},
            }
            status, body = self.api("POST", "/api/v1/nodes", node)
            if status not in (201, 409):
                raise ClusterError(f"creating node {name} failed: HTTP {status}: {body}")

    def ready_nodes(self) -> list[str]:
        """Names of the nodes whose Ready condition is True."""
        status, body = self.api("GET", "/api/v1/nodes")
        if status != 200:
            return []
        names = []
        for item in body.get("items", []):
            conds = item.get("status", {}).get("conditions") or []
            if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds):
                names.append(item["metadata"]["name"])
        return names

    def _wait_usable(self, nodes: int, deadline: float, *, real_node: bool = False) -> None:
        self._wait("kwok nodes Ready", lambda: len(self.ready_nodes()) >= nodes, deadline, "kwok")
        if real_node:
            self._wait(
                f"the real node {local_node.NODE_NAME} Ready",
                lambda: local_node.NODE_NAME in self.ready_nodes(),
                deadline,
                "kubelet",
            )
        # The controller-manager creates each namespace's default ServiceAccount.
        self._wait(
            "the default ServiceAccount",
            lambda: self.api("GET", "/api/v1/namespaces/default/serviceaccounts/default")[0] == 200,
            deadline,
            "kube-controller-manager",
        )

    def stop(self, grace: float = 10.0) -> list[str]:
        """Stop every running component (the real node first, then newest first).

        Returns the names that were stopped.
        """
        state = self.load_state()
        if state is None:
            return []
        stopped = []
        if state.real_node or any(n in state.pids for n in local_node.NODE_COMPONENTS):
            stopped += self.node().stop(list(state.pids))
            state = self.load_state()
            assert state is not None
        for name in reversed(COMPONENTS):
            if self._stop_component(state, name, grace):
                stopped.append(name)
        state.pids = {}
        self._save_state(state)
        return stopped

    def delete(self) -> None:
        """Stop the cluster and remove its directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def status(self) -> dict[str, Any]:
        """Processes, API health and node readiness."""
        state = self.load_state()
        result: dict[str, Any] = {"dir": str(self.dir), "running": self.running()}
        if state is None:
            result["healthy"] = False
            return result
        result["server"] = state.server
        result["kubeconfig"] = str(self.kubeconfig)
        try:
            result["apiserver_ready"] = self.api("GET", "/readyz")[0] == 200
            result["ready_nodes"] = self.ready_nodes()
        except (OSError, urllib.error.URLError, ClusterError):
            result["apiserver_ready"] = False
            result["ready_nodes"] = []
        result["healthy"] = all(result["running"].values()) and result["apiserver_ready"]
        return result


def _binary(component: str) -> str:
    """The executable's name a component's process runs."""
    if component.startswith("forward-"):
        return Path(sys.executable).name
    return component


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return bool(resp.status == 200)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m tools.local_cluster", description=__doc__)
    parser.add_argument("command", choices=["start", "stop", "status", "delete", "kubeconfig"])
    parser.add_argument("--dir", default=os.environ.get("TWK_CLUSTER_DIR", str(DEFAULT_DIR)))
    parser.add_argument("--nodes", type=int, default=3, help="kwok nodes (default 3)")
    parser.add_argument("--zones", type=int, default=2, help="zones the nodes spread over")
    parser.add_argument("--timeout", type=float, default=60.0, help="start timeout, seconds")
    parser.add_argument(
        "--real-node",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run a real kubelet node (needs root; default on)",
    )
    args = parser.parse_args(argv)
    cluster = LocalCluster(Path(args.dir))
    try:
        if args.command == "start":
            began = time.monotonic()
            state = cluster.start(args.nodes, args.zones, args.timeout, real_node=args.real_node)
            took = time.monotonic() - began
            print(f"cluster ready in {took:.1f} s: {state.server}")
            print(f"export KUBECONFIG={cluster.kubeconfig}")
        elif args.command == "stop":
            stopped = cluster.stop()
            print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
        elif args.command == "delete":
            cluster.delete()
            print(f"deleted {cluster.dir}")
        elif args.command == "kubeconfig":
            print(cluster.kubeconfig)
        else:
            status = cluster.status()
            for name, up in status["running"].items():
                print(f"{name:26} {'running' if up else 'stopped'}")
            if "server" in status:
                print(f"{'server':26} {status['server']}")
                print(f"{'apiserver ready':26} {status['apiserver_ready']}")
                print(f"{'ready nodes':26} {', '.join(status['ready_nodes']) or '-'}")
                print(f"{'kubeconfig':26} {status['kubeconfig']}")
            return 0 if status["healthy"] else 1
    except (ClusterError, NodeError, ToolsError) as exc:
        print(f"local_cluster: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
