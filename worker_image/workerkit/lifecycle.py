"""Where a worker process is in its life, and what the health endpoint reports about it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

State = Literal["starting", "ready", "draining", "drained", "failed"]


@dataclass
class Lifecycle:
    """The process state shared by the runner, the signal handlers and the health server."""

    task_queue: str
    graceful_shutdown_seconds: float
    state: State = "starting"
    stop_reason: str | None = None
    drain_started: float | None = None
    in_flight_activities: int = 0
    completed_activities: int = 0
    stop_requested: asyncio.Event = field(default_factory=asyncio.Event)
    signal_received: asyncio.Event = field(default_factory=asyncio.Event)

    def request_stop(self, reason: str) -> bool:
        """Ask for a drain; True if this call was the first request."""
        if self.stop_requested.is_set():
            return False
        self.stop_reason = reason
        self.stop_requested.set()
        return True

    def start_draining(self) -> None:
        """Readiness turns false from here on."""
        self.state = "draining"
        self.drain_started = time.monotonic()

    def drain_elapsed(self) -> float:
        """Seconds since the drain started (0 before)."""
        return 0.0 if self.drain_started is None else time.monotonic() - self.drain_started

    def status(self) -> dict[str, Any]:
        """The JSON body of `GET /status`."""
        return {
            "state": self.state,
            "task_queue": self.task_queue,
            "in_flight_activities": self.in_flight_activities,
            "completed_activities": self.completed_activities,
            "graceful_shutdown_seconds": self.graceful_shutdown_seconds,
            "drain_elapsed_seconds": round(self.drain_elapsed(), 3),
            "stop_reason": self.stop_reason,
        }


class InFlightCounter(Interceptor):
    """Counts running activities so drain progress can be reported."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        self._lifecycle = lifecycle

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        """Wrap activity execution with the counter."""
        return _CountingActivityInbound(next, self._lifecycle)


class _CountingActivityInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, lifecycle: Lifecycle) -> None:
        super().__init__(next)
        self._lifecycle = lifecycle

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        self._lifecycle.in_flight_activities += 1
        try:
            return await super().execute_activity(input)
        finally:
            self._lifecycle.in_flight_activities -= 1
            if not activity.is_cancelled():
                self._lifecycle.completed_activities += 1
