"""Worker processes started exactly as a pod starts them: `python -m workerkit`."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.ports import free_port
from tests.support.worker_endpoints import WorkerEndpoints

REPO = Path(__file__).resolve().parents[2]
WORKER_IMAGE = REPO / "worker_image"


def worker_pythonpath() -> str:
    """The runtime's code (worker_image/) plus the repo root, for the tests' own apps."""
    return os.pathsep.join([str(WORKER_IMAGE), str(REPO)])


def base_env(**extra: str) -> dict[str, str]:
    """A clean environment for a worker subprocess: PATH, PYTHONPATH and the given settings."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": worker_pythonpath(),
    }
    env.update(extra)
    return env


@dataclass
class WorkerProcess(WorkerEndpoints):
    """A running worker subprocess and where its endpoints are."""

    proc: subprocess.Popen[bytes]
    health_port: int
    metrics_port: int
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def metrics(self) -> str:
        """The Prometheus exposition text from the metrics port."""
        conn = http.client.HTTPConnection("127.0.0.1", self.metrics_port, timeout=3)
        try:
            conn.request("GET", "/metrics")
            return conn.getresponse().read().decode()
        finally:
            conn.close()

    def signal(self, signum: int = signal.SIGTERM) -> None:
        """Send a signal to the worker process."""
        self.proc.send_signal(signum)

    def wait_exit(self, timeout: float) -> int:
        """Wait for the process to exit and return its exit code."""
        return self.proc.wait(timeout=timeout)

    def logs(self) -> str:
        """Everything the worker wrote to stdout and stderr."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.proc.poll() is None

    def stop(self) -> None:
        """Make sure the process is gone (tests end by killing leftovers)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def start_worker(
    address: str,
    task_queue: str,
    app: str,
    log_dir: Path,
    settings: Mapping[str, str] | None = None,
    namespace: str = "default",
) -> WorkerProcess:
    """Start `python -m workerkit` for one queue on free loopback ports."""
    health, metrics = free_port(), free_port()
    env = base_env(
        TEMPORAL_ADDRESS=address,
        TEMPORAL_NAMESPACE=namespace,
        TEMPORAL_TASK_QUEUE=task_queue,
        WORKER_APP=app,
        WORKER_BIND_ADDRESS="127.0.0.1",
        WORKER_HEALTH_PORT=str(health),
        WORKER_METRICS_PORT=str(metrics),
        **dict(settings or {}),
    )
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"worker-{task_queue}-{health}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "workerkit"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=log_dir,
        )
    return WorkerProcess(proc, health, metrics, log_path, env)


def run_workerkit(
    args: list[str], env: Mapping[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `python -m workerkit ARGS` to completion and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "workerkit", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def terminate_all(workers: list[WorkerProcess]) -> None:
    """Kill whatever is still running."""
    for worker in workers:
        worker.stop()
