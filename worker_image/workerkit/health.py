"""The health endpoint: liveness, readiness, drain trigger and status, on the event loop itself.

Served from the worker's own asyncio loop (not a thread) so that a blocked loop fails liveness.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("workerkit.health")

Status = Callable[[], dict[str, Any]]

_REASONS = {
    200: "OK",
    202: "Accepted",
    404: "Not Found",
    405: "Method Not Allowed",
    503: "Service Unavailable",
}


class HealthServer:
    """Minimal HTTP/1.1 server for `/healthz`, `/readyz`, `/status` and `POST /drain`."""

    def __init__(self, status: Status, request_drain: Callable[[], object]) -> None:
        self._status = status
        self._request_drain = request_drain
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> None:
        """Bind and start serving."""
        self._server = await asyncio.start_server(self._handle, host, port)

    async def stop(self) -> None:
        """Stop accepting connections."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def route(self, method: str, path: str) -> tuple[int, dict[str, Any]]:
        """Answer one request: (HTTP status, JSON body)."""
        status = self._status()
        state = status["state"]
        if path == "/healthz" and method in ("GET", "HEAD"):
            return (503 if state == "failed" else 200), {"state": state}
        if path == "/readyz" and method in ("GET", "HEAD"):
            return (200 if state == "ready" else 503), {"state": state}
        if path == "/status" and method in ("GET", "HEAD"):
            return 200, status
        if path == "/drain":
            if method != "POST":
                return 405, {"error": "use POST /drain"}
            self._request_drain()
            return 202, self._status()
        return 404, {"error": f"no route {method} {path}"}

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            method, path = ([*request_line.split(" "), "", ""])[:2]
            code, body = self.route(method, path.split("?", 1)[0])
            payload = json.dumps(body).encode()
            writer.write(
                f"HTTP/1.1 {code} {_REASONS[code]}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + (b"" if method == "HEAD" else payload)
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        except ConnectionError:
            pass
        finally:
            writer.close()
