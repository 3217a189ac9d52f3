"""What a test can ask of any running worker (a process or a container): its health endpoints,
its JSON log lines, and waiting for a lifecycle state."""

from __future__ import annotations

import http.client
import json
import time
from typing import Any


class WorkerEndpoints:
    """Mixin for a running worker; subclasses provide `health_port`, `logs()` and `alive()`."""

    health_port: int

    def logs(self) -> str:
        """Everything the worker wrote to stdout and stderr."""
        raise NotImplementedError

    def alive(self) -> bool:
        """Whether the worker is still running."""
        raise NotImplementedError

    def get(self, path: str, method: str = "GET") -> tuple[int, dict[str, Any]]:
        """One request to the health port: (status code, JSON body); (0, {}) if nothing answers."""
        conn = http.client.HTTPConnection("127.0.0.1", self.health_port, timeout=3)
        try:
            conn.request(method, path)
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"{}")
        except (OSError, ValueError):
            return 0, {}
        finally:
            conn.close()

    def log_records(self) -> list[dict[str, Any]]:
        """The JSON log lines the worker wrote."""
        records = []
        for line in self.logs().splitlines():
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
        return records

    def wait_state(self, state: str, timeout: float = 30.0) -> None:
        """Block until `/status` reports the state, or fail with the worker's log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.get("/status")[1].get("state") == state:
                return
            if not self.alive():
                raise AssertionError(f"worker exited:\n{self.logs()}")
            time.sleep(0.05)
        raise AssertionError(f"worker not {state} after {timeout}s:\n{self.logs()}")
