"""Worker containers of the image, run as a pod runs them: read-only root, tmpfs /tmp, non-root.

Containers share the host network (the engine has no bridge), so each one gets its own free
loopback ports for health and metrics and binds them to 127.0.0.1 only.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.docker_engine import DockerEngine
from tests.support.ports import free_port
from tests.support.worker_endpoints import WorkerEndpoints

# What a Kubernetes pod of the kit gets: read-only root, a small tmpfs /tmp, no capabilities.
HARDENED_OPTIONS = (
    "--read-only",
    "--tmpfs",
    "/tmp:rw,noexec,nosuid,nodev,size=64m,mode=1777",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
)


@dataclass
class WorkerContainer(WorkerEndpoints):
    """One running worker container and where its endpoints listen."""

    engine: DockerEngine
    name: str
    task_queue: str
    health_port: int
    metrics_port: int
    env: dict[str, str] = field(default_factory=dict)

    def state(self) -> dict[str, Any]:
        """`docker inspect` .State of the container."""
        return dict(self.engine.inspect(self.name, kind="container")["State"])

    def logs(self) -> str:
        """Everything the container wrote to stdout and stderr."""
        proc = self.engine.docker("logs", self.name, check=False)
        return proc.stdout + proc.stderr

    def alive(self) -> bool:
        """Whether the container is still running."""
        return bool(self.state().get("Running", False))

    def exec(self, *args: str, workdir: str | None = None) -> tuple[int, str]:
        """`docker exec` in the running container: (exit code, stdout + stderr)."""
        options = ["--workdir", workdir] if workdir else []
        proc = self.engine.docker("exec", *options, self.name, *args, check=False, timeout=120)
        return proc.returncode, proc.stdout + proc.stderr

    def wait_exit(self, timeout: float) -> int:
        """Block until the container has exited by itself; return its exit code."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state()
            if not state.get("Running", False):
                return int(state["ExitCode"])
            time.sleep(0.1)
        raise AssertionError(f"container {self.name} still running after {timeout}s")

    def stop(self, timeout: int) -> float:
        """`docker stop --time TIMEOUT` (SIGTERM, SIGKILL after TIMEOUT s); returns the seconds."""
        started = time.monotonic()
        self.engine.docker("stop", "--time", str(timeout), self.name, timeout=timeout + 60)
        return time.monotonic() - started

    def remove(self) -> None:
        """Remove the container whatever its state."""
        self.engine.docker("rm", "--force", self.name, check=False)


def start_worker_container(
    engine: DockerEngine,
    image: str,
    temporal_address: str,
    task_queue: str,
    app: str,
    settings: Mapping[str, str] | None = None,
    mounts: Mapping[str, str] | None = None,
    namespace: str = "default",
) -> WorkerContainer:
    """`docker run -d` one worker for a queue, hardened like a pod; mounts map host dir -> path."""
    health, metrics = free_port(), free_port()
    env = {
        "TEMPORAL_ADDRESS": temporal_address,
        "TEMPORAL_NAMESPACE": namespace,
        "TEMPORAL_TASK_QUEUE": task_queue,
        "WORKER_APP": app,
        "WORKER_BIND_ADDRESS": "127.0.0.1",
        "WORKER_HEALTH_PORT": str(health),
        "WORKER_METRICS_PORT": str(metrics),
        **dict(settings or {}),
    }
    name = f"twk-test-{task_queue}-{uuid.uuid4().hex[:8]}"
    args = ["run", "--detach", "--name", name, "--network=host", *HARDENED_OPTIONS]
    for source, target in (mounts or {}).items():
        args += ["--mount", f"type=bind,source={source},target={target},readonly"]
    for key, value in env.items():
        args += ["--env", f"{key}={value}"]
    engine.docker(*args, image)
    return WorkerContainer(engine, name, task_queue, health, metrics, env)


@contextmanager
def shared_dir(prefix: str = "twk-shared-") -> Iterator[Path]:
    """A fresh host directory under /tmp that the container user (uid 10001) can read.

    pytest's tmp_path sits below a 0700 directory, so bind mounts for containers come from here.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        path.chmod(0o755)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
