"""The local stack behind ``make up`` / ``make down`` / ``make stack-status``.

``python -m tools.local_stack up|down|status``

``up`` brings up, in order, and records what it started itself (so ``down`` stops only that):

1. the tools (``tools/build.sh``; seconds when cached) and the engine's plugins;
2. a Temporal dev server on ``127.0.0.1:7233`` (``temporal server start-dev`` from the venv);
3. the project's Docker engine (``scripts/docker-engine.sh``), its local base image
   (``scripts/base-image.sh``) and the wheelhouse (``scripts/wheelhouse.sh``);
4. a container registry on ``127.0.0.1:5001`` (distribution v3, built from the Go module pinned in
   ``tools/registry``): the docker-build provider pushes the image there, so the stack gets the
   image's real registry digest (a build that is only loaded into the engine has none);
5. the local control plane (``tools/local_cluster.py``, ``.cache/cluster``);
6. ``pulumi up --stack local --yes`` with the policy pack and its production config.

Pulumi runs in a generated project directory (``.cache/local-stack/project``): a copy of
``Pulumi.yaml``, a symlink to ``infra/`` and a copy of the stack file with the few values that
depend on this machine (ports, kubeconfig path) applied. The engine writes the passphrase salt into
the stack file it uses; working on a copy keeps the repo's stack files unmodified.

``down`` runs ``pulumi destroy`` and stops, newest first, only what ``up`` started. The state
(pids, ports, logs) lives in ``.cache/local-stack``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tools import local_node, pulumi_env
from tools.local_cluster import ClusterError, LocalCluster
from tools.pulumi_env import REPO_ROOT, ToolsError

DEFAULT_WORK_DIR = REPO_ROOT / ".cache" / "local-stack"
DEFAULT_CLUSTER_DIR = REPO_ROOT / ".cache" / "cluster"
DOCKER_SOCK = os.environ.get("TWK_DOCKER_SOCK", "/run/twk-docker/docker.sock")
DOCKER_HOST = f"unix://{DOCKER_SOCK}"
POLICY_PACK = REPO_ROOT / "policies"
POLICY_CONFIG = REPO_ROOT / "policies" / "config" / "production.json"
PART_OF = "app.kubernetes.io/part-of=temporal-workers"
PROJECT = "temporal-workers"


class StackError(RuntimeError):
    """A step of the local stack failed; the message says which and where its log is."""


# -- small helpers ----------------------------------------------------------------------------
def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    """True if the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def stop_pid(pid: int, grace: float = 15.0) -> None:
    """SIGTERM the process group of ``pid``, then SIGKILL after ``grace`` seconds."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    end = time.monotonic() + grace
    while _alive(pid) and time.monotonic() < end:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _wait(what: str, check: Callable[[], bool], timeout: float, log: Path | None = None) -> None:
    """Poll ``check`` until it is true; raise StackError naming ``what`` (and the log) otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
            if check():
                return
        time.sleep(0.3)
    tail = ""
    if log is not None and log.is_file():
        tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
        tail = f"; see {log}: {tail}"
    raise StackError(f"{what} not ready after {timeout:.0f} s{tail}")


def _http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _run(cmd: list[str], what: str, env: dict[str, str] | None = None) -> str:
    """Run a short command; raise StackError with its output when it fails."""
    proc = subprocess.run(
        cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False, timeout=1800
    )
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr).strip()[-2000:]
        raise StackError(f"{what} failed (exit {proc.returncode}): {out}")
    return proc.stdout


def _fmt_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def tool_binary(name: str) -> Path:
    """A binary built by ``tools/build.sh`` (``make tools``) for the current pins."""
    binary = pulumi_env.tools_bin() / name
    if not binary.is_file():
        raise StackError(f"{binary} is missing; run `make tools`")
    return binary


def start_registry(directory: Path, port: int) -> subprocess.Popen[bytes]:
    """Start the registry on ``127.0.0.1:port`` with its data and log in ``directory``.

    Returns once ``GET /v2/`` answers 200; the caller stops it (``stop_pid(proc.pid)``).
    """
    binary = tool_binary("registry")
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "registry"
    config = directory / "registry.yml"
    settings = {
        "version": 0.1,
        "log": {"level": "warn", "formatter": "text"},
        "storage": {"filesystem": {"rootdirectory": str(data)}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}"},
    }
    config.write_text(yaml.safe_dump(settings))
    log = directory / "registry.log"
    # distribution v3 sets up OpenTelemetry; keep it from exporting anywhere.
    env = dict(os.environ, OTEL_TRACES_EXPORTER="none", OTEL_SDK_DISABLED="true")
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [str(binary), "serve", str(config)],
            cwd=directory,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/v2/"

    def ready() -> bool:
        if proc.poll() is not None:
            raise StackError(f"the registry exited {proc.returncode}; see {log}")
        return _http_status(url) == 200

    try:
        _wait(f"registry on 127.0.0.1:{port}", ready, 30, log)
    except StackError:
        stop_pid(proc.pid)
        raise
    return proc


BUILDER_NAME = "twk-buildkit"
BASE_IMAGE = "twk-base:bookworm-python3"


def push_base_image(registry: str) -> str:
    """Push the engine's local base image to ``registry``; returns the reference pushed.

    BuildKit builds from registries, not from the Docker engine's image store, so the debootstrap
    base image made by ``scripts/base-image.sh`` is published on the local registry.
    """
    docker = os.environ.get("TWK_DOCKER_CLI", "/usr/bin/docker")
    env = dict(os.environ, DOCKER_HOST=DOCKER_HOST)
    ref = f"{registry}/{BASE_IMAGE}"
    _run([docker, "tag", BASE_IMAGE, ref], f"docker tag {BASE_IMAGE}", env=env)
    _run([docker, "push", ref], f"docker push {ref}", env=env)
    return ref


def start_buildkitd(directory: Path, registries: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    """Start a BuildKit daemon (built from ``tools/buildkit``) on a unix socket in ``directory``.

    The docker-build provider refuses the Docker engine's built-in BuildKit ("docker" driver) and,
    without another builder, creates a ``docker-container`` one, which pulls ``moby/buildkit`` from
    Docker Hub. This daemon is the provider's ``remote`` builder instead (see
    :func:`write_buildx_store`); ``registries`` (``127.0.0.1:<port>``) are reached over plain HTTP.
    Returns the process and the socket address (``unix://...``).
    """
    binary = tool_binary("buildkitd")
    directory.mkdir(parents=True, exist_ok=True)
    sock = directory / "buildkitd.sock"
    if len(str(sock)) > 100:  # the sun_path limit
        sock = Path(tempfile.mkdtemp(prefix="twk-bk-")) / "buildkitd.sock"
    config = directory / "buildkitd.toml"
    lines = ['insecure-entitlements = ["network.host"]', "", "[worker.oci]", "  enabled = true"]
    lines += ["", "[worker.containerd]", "  enabled = false"]
    for registry in registries:
        lines += ["", f'[registry."{registry}"]', "  http = true", "  insecure = true"]
    config.write_text("\n".join(lines) + "\n")
    log = directory / "buildkitd.log"
    cmd = [str(binary), "--config", str(config), "--root", str(directory / "buildkit")]
    cmd += ["--addr", f"unix://{sock}"]
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            cmd, cwd=directory, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )

    def ready() -> bool:
        if proc.poll() is not None:
            raise StackError(f"buildkitd exited {proc.returncode}; see {log}")
        if not sock.exists():
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            return conn.connect_ex(str(sock)) == 0

    try:
        _wait("buildkitd", ready, 60, log)
    except StackError:
        stop_pid(proc.pid)
        raise
    return proc, f"unix://{sock}"


def write_buildx_store(docker_config: Path, endpoint: str) -> Path:
    """A Docker CLI config dir whose buildx store selects the ``remote`` builder at ``endpoint``.

    The provider reads builders from ``$DOCKER_CONFIG/buildx`` (what ``docker buildx create
    --driver remote`` writes); a dir of our own keeps ``~/.docker`` untouched.
    """
    instances = docker_config / "buildx" / "instances"
    instances.mkdir(parents=True, exist_ok=True)
    node: dict[str, Any] = {"Name": f"{BUILDER_NAME}0", "Endpoint": endpoint, "Platforms": None}
    node |= {"DriverOpts": {}, "Flags": None, "Files": None}
    group = {"Name": BUILDER_NAME, "Driver": "remote", "Nodes": [node], "Dynamic": False}
    (instances / BUILDER_NAME).write_text(json.dumps(group))
    current = {"Key": DOCKER_HOST, "Name": BUILDER_NAME, "Global": True}
    (docker_config / "buildx" / "current").write_text(json.dumps(current))
    (docker_config / "config.json").write_text("{}\n")
    return docker_config


def generate_project(
    project_dir: Path,
    stack: str,
    stack_file: Path,
    edit: Callable[[dict[str, Any]], None] | None = None,
) -> Path:
    """A Pulumi project directory for the kit's program that leaves the repo's files untouched.

    It holds a copy of ``Pulumi.yaml`` (virtualenv made absolute), a symlink ``infra`` to the
    program (which resolves its own root, so image context and relative paths still mean the repo)
    and ``Pulumi.<stack>.yaml``: ``stack_file`` with ``edit`` applied to its ``config`` mapping. The
    passphrase salt the engine wrote into an earlier copy is kept.
    """
    project_dir.mkdir(parents=True, exist_ok=True)
    project = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
    options = project.setdefault("runtime", {}).setdefault("options", {})
    options["virtualenv"] = str(REPO_ROOT / ".venv")
    (project_dir / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    link = project_dir / "infra"
    if not link.is_symlink():
        if link.exists():
            shutil.rmtree(link)
        link.symlink_to(REPO_ROOT / "infra", target_is_directory=True)
    config_path = project_dir / f"Pulumi.{stack}.yaml"
    old: dict[str, Any] = {}
    if config_path.is_file():
        old = yaml.safe_load(config_path.read_text()) or {}
    data = yaml.safe_load(stack_file.read_text()) or {}
    if edit is not None:
        edit(data.setdefault("config", {}))
    if "encryptionsalt" in old:
        data["encryptionsalt"] = old["encryptionsalt"]
    header = f"# generated by tools/local_stack.py from {stack_file}; edit that file\n"
    config_path.write_text(header + yaml.safe_dump(data, sort_keys=False))
    return project_dir


# -- options and recorded state ---------------------------------------------------------------
@dataclass
class Options:
    """Where and how the local stack runs; the defaults are what ``make up`` uses."""

    work_dir: Path = DEFAULT_WORK_DIR
    stack: str = "local"
    stack_file: Path = REPO_ROOT / "Pulumi.local.yaml"
    backend_dir: Path = pulumi_env.DEFAULT_STATE_DIR
    cluster_dir: Path = DEFAULT_CLUSTER_DIR
    temporal_port: int = 7233
    registry_port: int = 5001
    namespace: str | None = None
    policy_config: Path = POLICY_CONFIG
    verbose: bool = True


@dataclass
class State:
    """What ``up`` recorded in ``work_dir/state.json``."""

    started: list[str] = field(default_factory=list)
    pids: dict[str, int] = field(default_factory=dict)
    temporal_address: str = ""
    registry_address: str = ""
    buildkit_endpoint: str = ""
    forwarded: int | None = None
    cluster_dir: str = ""
    backend_dir: str = ""
    stack: str = ""


@dataclass
class Workload:
    """One queue's objects as the Kubernetes API reports them."""

    queue: str
    deployment: str
    ready: int
    desired: int
    available: bool
    hpa: str
    pdb: str
    min_replicas: int
    nodes: str = "-"

    @property
    def settled(self) -> bool:
        """Available with at least the autoscaler's minimum ready."""
        return self.available and self.ready >= self.min_replicas


@dataclass
class Summary:
    """What ``up`` deployed."""

    stack: str
    namespace: str
    image_ref: str
    image_digest: str
    build_id: str
    temporal_address: str
    registry_address: str
    api_server: str
    kubeconfig: str
    workloads: list[Workload]
    timings: dict[str, float]
    project_dir: str

    def render(self) -> str:
        """The text ``make up`` prints."""
        total = sum(self.timings.values())
        took = f" ({_fmt_seconds(total)})" if self.timings else ""
        lines = [f'local stack "{self.stack}" is up{took}', ""]
        rows = [
            ("Temporal dev server", f"{self.temporal_address} (namespace default)"),
            ("image registry", self.registry_address),
            ("Kubernetes API", self.api_server),
            ("real node", f"{local_node.NODE_NAME} at {local_node.NODE_IP} (kubelet, containerd)"),
            ("image", self.image_ref),
            ("image digest", self.image_digest),
            ("build id", self.build_id),
            ("namespace", self.namespace),
        ]
        lines += [f"  {k:20} {v}" for k, v in rows]
        lines.append("")
        header = ("queue", "workload (Deployment)", "ready", "available", "HPA", "PDB", "pods on")
        table = [header] + [
            (
                w.queue,
                w.deployment,
                f"{w.ready}/{w.desired}",
                "yes" if w.available else "NO",
                w.hpa,
                w.pdb,
                w.nodes,
            )
            for w in self.workloads
        ]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for row in table:
            lines.append("  " + "  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip())
        if self.timings:
            lines.append("")
            timings = ", ".join(f"{k} {_fmt_seconds(v)}" for k, v in self.timings.items())
            lines.append(f"  timings: {timings}")
        lines += [
            "",
            "Look at it:",
            f"  export KUBECONFIG={self.kubeconfig}",
            f"  kubectl -n {self.namespace} get deploy,hpa,pdb,pods -l {PART_OF}",
            f"  scripts/with-engine pulumi -C {self.project_dir} stack output --stack {self.stack}",
            "  make stack-preview   # pulumi preview of the deployed stack: expects no changes",
            f"  .venv/bin/temporal task-queue describe --address {self.temporal_address} "
            "--task-queue orders",
            "  make stack-status    # processes, stack outputs, workloads",
            "  make down            # destroy the stack, stop what make up started",
            "",
            f"The workers run in pods on the real node {local_node.NODE_NAME} (kubelet,",
            f"containerd, runc; pod network {local_node.SUBNET}; they reach the dev server at",
            f"{local_node.NODE_IP}). `make order` places an order through them; the kwok nodes",
            "stay for scheduling tests.",
        ]
        return "\n".join(lines)


# -- the stack --------------------------------------------------------------------------------
class LocalStack:
    """Bring the local stack up, tear it down, report on it."""

    def __init__(self, options: Options | None = None) -> None:
        """Options default to what ``make up`` uses."""
        self.opts = options or Options()
        self.work = self.opts.work_dir.resolve()
        self.project = self.work / "project"
        self.cluster = LocalCluster(self.opts.cluster_dir)

    # state
    @property
    def state_file(self) -> Path:
        """``work_dir/state.json``."""
        return self.work / "state.json"

    def load_state(self) -> State:
        """The recorded state (empty when nothing was started)."""
        if not self.state_file.is_file():
            return State()
        return State(**json.loads(self.state_file.read_text()))

    def _save(self, state: State) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2))
        tmp.replace(self.state_file)

    def _say(self, text: str) -> None:
        if self.opts.verbose:
            print(f"[stack] {text}", flush=True)

    # environment
    def engine_env(self) -> dict[str, str]:
        """The offline engine env for this stack's backend, with the Docker engine's socket."""
        env = pulumi_env.engine_env(backend_dir=self.opts.backend_dir)
        env["DOCKER_HOST"] = DOCKER_HOST
        env["DOCKER_CONFIG"] = str(self.docker_config)
        return env

    @property
    def docker_config(self) -> Path:
        """The Docker CLI config dir whose buildx store names this stack's BuildKit daemon."""
        return self.work / "docker-config"

    @property
    def temporal_address(self) -> str:
        """``127.0.0.1:<port>`` of the dev server."""
        return f"127.0.0.1:{self.opts.temporal_port}"

    @property
    def pod_temporal_address(self) -> str:
        """Where the pods on the real node reach the dev server (forwarded to 127.0.0.1)."""
        return f"{local_node.NODE_IP}:{self.opts.temporal_port}"

    @property
    def registry_address(self) -> str:
        """``127.0.0.1:<port>`` of the registry."""
        return f"127.0.0.1:{self.opts.registry_port}"

    def write_project(self) -> Path:
        """Generate the Pulumi project directory (see the module docstring); returns it."""

        def edit(config: dict[str, Any]) -> None:
            image = config.setdefault(f"{PROJECT}:image", {})
            path = str(image.get("repository", "temporal-workers/worker"))
            first, _, rest = path.partition("/")
            if rest and ("." in first or ":" in first):
                path = rest  # drop the registry host of the stack file
            image["repository"] = f"{self.registry_address}/{path}"
            image["push"] = True
            image["registry"] = {"address": self.registry_address}
            base = str(image.get("baseImage", ""))
            if base.startswith("127.0.0.1:"):
                image["baseImage"] = f"{self.registry_address}/{base.split('/', 1)[1]}"
            config.setdefault(f"{PROJECT}:temporal", {})["address"] = self.pod_temporal_address
            kube = config.setdefault(f"{PROJECT}:kubernetes", {})
            kube["kubeconfig"] = str(self.cluster.kubeconfig)
            if self.opts.namespace:
                config.setdefault(f"{PROJECT}:namespace", {})["name"] = self.opts.namespace

        generate_project(self.project, self.opts.stack, self.opts.stack_file, edit)
        return self.project

    def pulumi(
        self, args: list[str], *, stream: bool = False, timeout: float = 1800.0
    ) -> tuple[int, str]:
        """Run ``pulumi ARGS`` in the generated project; output captured (and echoed if asked)."""
        env = self.engine_env()
        cmd = ["pulumi", *args, "--non-interactive"]
        proc = subprocess.Popen(
            cmd,
            cwd=self.project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        lines: list[str] = []
        deadline = time.monotonic() + timeout
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if stream:
                print("    " + line, end="", flush=True)
            if time.monotonic() > deadline:
                stop_pid(proc.pid)
                raise StackError(f"pulumi {' '.join(args)} timed out after {timeout:.0f} s")
        return proc.wait(), "".join(lines)

    def _pulumi_ok(self, args: list[str], *, stream: bool = False) -> str:
        code, out = self.pulumi(args, stream=stream)
        if code != 0:
            tail = out if stream else out[-4000:]
            raise StackError(
                f"pulumi {' '.join(args)} exited {code}" + ("" if stream else f":\n{tail}")
            )
        return out

    # components
    def _start_temporal(self, state: State) -> None:
        address = self.temporal_address
        if _port_open(self.opts.temporal_port):
            self._say(f"Temporal dev server: already answering on {address}")
            return
        log = self.work / "temporal.log"
        temporal = REPO_ROOT / ".venv" / "bin" / "temporal"
        cmd = [
            str(temporal), "server", "start-dev", "--headless",
            "--ip", "127.0.0.1", "--port", str(self.opts.temporal_port),
            "--http-port", str(free_port()), "--metrics-port", str(free_port()),
            "--log-level", "warn",
        ]  # fmt: skip
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                cmd, cwd=self.work, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        state.pids["temporal"] = proc.pid
        state.started.append("temporal")
        self._save(state)
        describe = [str(temporal), "operator", "namespace", "describe", "--address", address]
        describe += ["-n", "default"]

        def ready() -> bool:
            if proc.poll() is not None:
                raise StackError(f"the Temporal dev server exited {proc.returncode}; see {log}")
            return subprocess.run(describe, capture_output=True, check=False).returncode == 0

        _wait(f"Temporal dev server on {address}", ready, 60, log)
        self._say(f"Temporal dev server: started on {address} (pid {proc.pid}, log {log})")

    def _start_registry(self, state: State) -> None:
        if _port_open(self.opts.registry_port):
            if _http_status(f"http://{self.registry_address}/v2/") != 200:
                raise StackError(f"{self.registry_address} is taken by something else")
            self._say(f"registry: already answering on {self.registry_address}")
            return
        proc = start_registry(self.work, self.opts.registry_port)
        state.pids["registry"] = proc.pid
        state.started.append("registry")
        self._save(state)
        self._say(f"registry: started on {self.registry_address} (pid {proc.pid})")

    def _start_buildkit(self, state: State) -> None:
        ref = push_base_image(self.registry_address)
        self._say(f"base image pushed as {ref}")
        pid = state.pids.get("buildkitd")
        endpoint = state.buildkit_endpoint
        if pid is None or not _alive(pid) or not endpoint:
            proc, endpoint = start_buildkitd(self.work, [self.registry_address])
            state.pids["buildkitd"] = proc.pid
            state.buildkit_endpoint = endpoint
            state.started.append("buildkitd")
            self._save(state)
            self._say(f"buildkitd: started on {endpoint} (pid {proc.pid})")
        else:
            self._say(f"buildkitd: already running on {endpoint}")
        write_buildx_store(self.docker_config, endpoint)

    def _start_docker(self, state: State) -> None:
        engine = str(REPO_ROOT / "scripts" / "docker-engine.sh")
        running = subprocess.run([engine, "status"], capture_output=True, check=False)
        if running.returncode == 0:
            self._say("Docker engine: already running")
        else:
            _run([engine, "up"], "scripts/docker-engine.sh up")
            state.started.append("docker")
            self._save(state)
            self._say(f"Docker engine: started on {DOCKER_HOST}")
        _run([str(REPO_ROOT / "scripts" / "base-image.sh"), "runtime"], "scripts/base-image.sh")
        env = dict(os.environ, PYTHON=str(REPO_ROOT / ".venv" / "bin" / "python"))
        _run([str(REPO_ROOT / "scripts" / "wheelhouse.sh")], "scripts/wheelhouse.sh", env=env)
        self._say("base image twk-base:bookworm-python3 and wheelhouse: ready")

    def _start_cluster(self, state: State) -> None:
        running = self.cluster.load_state()
        if all(self.cluster.running().values()) and running and running.real_node:
            self.cluster.start(nodes=3, zones=2, timeout=120, real_node=True)  # waits until usable
            self._say(f"control plane: already running ({self.cluster.dir})")
        else:
            state.started.append("cluster")
            self._save(state)
            self.cluster.start(nodes=3, zones=2, timeout=120, real_node=True)
            self._say(
                f"control plane: started ({self.cluster.dir}, 3 kwok nodes in 2 zones and the "
                f"real node {local_node.NODE_NAME} at {local_node.NODE_IP})"
            )
        node = self.cluster.node()
        node.trust_registry(self.registry_address)
        node.forward(self.opts.temporal_port)
        state.forwarded = self.opts.temporal_port
        self._save(state)
        self._say(f"pods reach the dev server at {self.pod_temporal_address}")

    # the public steps
    def up(self) -> Summary:
        """Start everything, ``pulumi up`` the stack, and return what was deployed."""
        self.work.mkdir(parents=True, exist_ok=True)
        state = self.load_state()
        state.cluster_dir = str(self.cluster.dir)
        state.backend_dir = str(self.opts.backend_dir)
        state.stack = self.opts.stack
        state.temporal_address = self.temporal_address
        state.registry_address = self.registry_address
        timings: dict[str, float] = {}

        @contextlib.contextmanager
        def timed(name: str) -> Iterator[None]:
            began = time.monotonic()
            yield
            timings[name] = time.monotonic() - began

        with timed("tools"):
            self._say("tools: building what is missing (tools/build.sh) ...")
            bin_dir = pulumi_env.tools_bin(pulumi_env.build_tools(quiet=not self.opts.verbose))
            pulumi_env.install_plugins(self.engine_env(), bin_dir)
        with timed("temporal"):
            self._start_temporal(state)
        with timed("docker"):
            self._start_docker(state)
        with timed("registry"):
            self._start_registry(state)
        with timed("buildkit"):
            self._start_buildkit(state)
        with timed("cluster"):
            self._start_cluster(state)
        with timed("pulumi up"):
            self.write_project()
            self._pulumi_ok(["stack", "select", "--create", self.opts.stack])
            self._say(
                f"pulumi up --stack {self.opts.stack} --yes --policy-pack policies "
                "--policy-pack-config policies/config/production.json"
            )
            self._pulumi_ok(
                ["up", "--stack", self.opts.stack, "--yes", *self.policy_args],
                stream=self.opts.verbose,
            )
        with timed("HPA scale-up"):
            # Without `replicas` (the HPA owns them) a new Deployment starts with one pod; the
            # HPA controller raises it to minReplicas on its next sync (15 s period).
            self._say("waiting until every queue has its HPA's minReplicas ready ...")
            self.wait_settled()
        return self.summary(timings)

    def wait_settled(self, timeout: float = 90.0) -> list[Workload]:
        """Wait until every workload is Available with its HPA's minReplicas ready."""
        namespace = str(self.outputs()["namespace"])
        deadline = time.monotonic() + timeout
        while True:
            workloads = self.workloads(namespace)
            if workloads and all(w.settled for w in workloads):
                return workloads
            if time.monotonic() > deadline:
                raise StackError(f"workloads not settled after {timeout:.0f} s: {workloads}")
            time.sleep(1.0)

    def outputs(self) -> dict[str, Any]:
        """The stack outputs (``pulumi stack output --json``)."""
        out = self._pulumi_ok(["stack", "output", "--stack", self.opts.stack, "--json"])
        return dict(json.loads(out))

    def workloads(self, namespace: str) -> list[Workload]:
        """The stack's Deployments, HPAs and PDBs as the API server reports them."""
        selector = urllib.parse.quote(PART_OF)

        def items(path: str) -> list[dict[str, Any]]:
            status, body = self.cluster.api("GET", f"{path}?labelSelector={selector}")
            if status != 200:
                raise StackError(f"GET {path}: HTTP {status}: {body}")
            return list(body.get("items", []))

        base = f"/namespaces/{namespace}"
        hpas = {
            h["spec"]["scaleTargetRef"]["name"]: h
            for h in items(f"/apis/autoscaling/v2{base}/horizontalpodautoscalers")
        }
        pdbs = {
            p["metadata"]["labels"].get("app.kubernetes.io/component", ""): p
            for p in items(f"/apis/policy/v1{base}/poddisruptionbudgets")
        }
        nodes: dict[str, set[str]] = {}
        for pod in items(f"/api/v1{base}/pods"):
            owners = pod["metadata"].get("ownerReferences") or [{"name": ""}]
            deployment = owners[0]["name"].rsplit("-", 1)[0]  # <deployment>-<template hash>
            nodes.setdefault(deployment, set()).add(pod["spec"].get("nodeName") or "(pending)")
        result = []
        for dep in items(f"/apis/apps/v1{base}/deployments"):
            name = dep["metadata"]["name"]
            labels = dep["metadata"]["labels"]
            component = labels.get("app.kubernetes.io/component", "")
            queue = labels.get("temporal.io/task-queue", component)
            status = dep.get("status", {})
            conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
            hpa = hpas.get(name)
            pdb = pdbs.get(component)
            hpa_text = (
                f"{hpa['spec'].get('minReplicas', 1)}-{hpa['spec']['maxReplicas']}" if hpa else "-"
            )
            pdb_text = "-"
            if pdb:
                spec = pdb["spec"]
                key = "maxUnavailable" if "maxUnavailable" in spec else "minAvailable"
                pdb_text = f"{key}={spec.get(key)}"
            result.append(
                Workload(
                    queue=queue,
                    deployment=name,
                    ready=int(status.get("readyReplicas", 0)),
                    desired=int(dep["spec"].get("replicas") or status.get("replicas", 0)),
                    available=conditions.get("Available") == "True",
                    hpa=hpa_text,
                    pdb=pdb_text,
                    min_replicas=int(hpa["spec"].get("minReplicas", 1)) if hpa else 1,
                    nodes=",".join(sorted(nodes.get(name, ()))) or "-",
                )
            )
        return sorted(result, key=lambda w: w.queue)

    def summary(self, timings: dict[str, float] | None = None) -> Summary:
        """Outputs and workloads of the deployed stack."""
        outputs = self.outputs()
        image = outputs.get("image", {})
        namespace = str(outputs["namespace"])
        state = self.cluster.load_state()
        return Summary(
            stack=self.opts.stack,
            namespace=namespace,
            image_ref=str(image.get("ref", "")),
            image_digest=str(image.get("digest", "")),
            build_id=str(image.get("buildId", "")),
            temporal_address=self.temporal_address,
            registry_address=self.registry_address,
            api_server=state.server if state else "",
            kubeconfig=_rel(self.cluster.kubeconfig),
            workloads=self.workloads(namespace),
            timings=timings or {},
            project_dir=_rel(self.project),
        )

    @property
    def policy_args(self) -> list[str]:
        """The policy pack and its production profile, as ``up`` and ``preview`` pass them."""
        return [
            "--policy-pack",
            str(POLICY_PACK),
            "--policy-pack-config",
            str(self.opts.policy_config),
        ]

    def preview(self, *, expect_no_changes: bool = True) -> str:
        """``pulumi preview --diff`` of the local stack as ``make up`` deploys it, with the pack.

        Runs on the generated project, rewritten from the repo's ``Pulumi.local.yaml`` first (so an
        edit of that file shows as a change, and the repo's file is never written by the engine).
        Fails (:class:`StackError`, with the engine's output) when the stack is not up, when a
        mandatory policy fails, or, with ``expect_no_changes``, when anything would change.
        """
        if not (self.project.is_dir() and self.state_file.is_file()):
            raise StackError("the local stack is not up: run make up")
        self.write_project()
        args = ["preview", "--stack", self.opts.stack, "--diff", *self.policy_args]
        if expect_no_changes:
            args.append("--expect-no-changes")
        self._say("pulumi " + " ".join(args))
        return self._pulumi_ok(args, stream=self.opts.verbose)

    def down(self) -> list[str]:
        """Destroy the stack and stop what ``up`` started; returns the steps taken."""
        state = self.load_state()
        done: list[str] = []
        if self.project.is_dir() and (self.opts.backend_dir / ".pulumi").is_dir():
            code, _ = self.pulumi(["stack", "select", self.opts.stack])
            if code == 0:
                if not all(self.cluster.running().values()):
                    self.cluster.start(nodes=3, zones=2, timeout=120, real_node=True)
                    if "cluster" not in state.started:
                        state.started.append("cluster")
                self.write_project()
                self._say(f"pulumi destroy --stack {self.opts.stack} --yes")
                self._pulumi_ok(
                    ["destroy", "--stack", self.opts.stack, "--yes"], stream=self.opts.verbose
                )
                self._pulumi_ok(["stack", "rm", "--stack", self.opts.stack, "--yes"])
                done.append(f"destroyed stack {self.opts.stack}")
        if state.forwarded is not None and "cluster" not in state.started:
            self.cluster.node().unforward(state.forwarded)  # the cluster stays: only ours goes
        for name in reversed(state.started):
            if name == "cluster":
                self.cluster.stop()
            elif name == "docker":
                _run(
                    [str(REPO_ROOT / "scripts" / "docker-engine.sh"), "down"], "docker-engine down"
                )
            elif name in state.pids:
                stop_pid(state.pids[name])
            done.append(f"stopped {name}")
            self._say(f"stopped {name}")
        self.state_file.unlink(missing_ok=True)
        return done

    def status(self) -> dict[str, Any]:
        """Which parts run, and the stack's workloads if it is deployed."""
        state = self.load_state()
        result: dict[str, Any] = {
            "temporal": _port_open(self.opts.temporal_port),
            "registry": _port_open(self.opts.registry_port),
            "docker": subprocess.run(
                [str(REPO_ROOT / "scripts" / "docker-engine.sh"), "status"],
                capture_output=True,
                check=False,
            ).returncode
            == 0,
            "cluster": all(self.cluster.running().values()),
            "buildkitd": "buildkitd" in state.pids and _alive(state.pids["buildkitd"]),
            "started_by_up": state.started,
        }
        if result["cluster"] and self.project.is_dir():
            with contextlib.suppress(StackError, KeyError):
                result["summary"] = self.summary()
        return result


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``up``, ``preview``, ``down``, ``status``."""
    parser = argparse.ArgumentParser(prog="python -m tools.local_stack", description=__doc__)
    parser.add_argument("command", choices=["up", "preview", "down", "status"])
    defaults = Options()
    parser.add_argument("--work-dir", type=Path, default=defaults.work_dir, help="state and logs")
    parser.add_argument("--cluster-dir", type=Path, default=defaults.cluster_dir)
    parser.add_argument("--backend-dir", type=Path, default=defaults.backend_dir)
    parser.add_argument("--temporal-port", type=int, default=defaults.temporal_port)
    parser.add_argument("--registry-port", type=int, default=defaults.registry_port)
    parser.add_argument("--quiet", action="store_true", help="no progress, only the summary")
    parser.add_argument(
        "--policy-config", type=Path, default=defaults.policy_config, help="policy pack profile"
    )
    parser.add_argument(
        "--allow-changes", action="store_true", help="preview: do not fail when something changes"
    )
    args = parser.parse_args(argv)
    stack = LocalStack(
        Options(
            work_dir=args.work_dir,
            cluster_dir=args.cluster_dir,
            backend_dir=args.backend_dir,
            temporal_port=args.temporal_port,
            registry_port=args.registry_port,
            policy_config=args.policy_config.resolve(),
            verbose=not args.quiet,
        )
    )
    try:
        if args.command == "up":
            summary = stack.up()
            print()
            print(summary.render())
        elif args.command == "preview":
            out = stack.preview(expect_no_changes=not args.allow_changes)
            if not stack.opts.verbose:
                print(out, end="")
        elif args.command == "down":
            began = time.monotonic()
            steps = stack.down()
            print(
                f"down in {_fmt_seconds(time.monotonic() - began)}: "
                + ("; ".join(steps) or "nothing to do")
            )
        else:
            status = stack.status()
            for name in ("temporal", "registry", "buildkitd", "docker", "cluster"):
                print(f"{name:10} {'running' if status[name] else 'stopped'}")
            print(f"{'started by make up':10}: {', '.join(status['started_by_up']) or '-'}")
            if "summary" in status:
                print()
                print(status["summary"].render())
    except (StackError, ToolsError, ClusterError) as exc:
        print(f"local_stack: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
