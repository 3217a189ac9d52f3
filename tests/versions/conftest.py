"""Fixtures for versioned-rollout tests: a dev server with short drainage timings (SHORT_DRAINAGE),
real worker processes per build."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from infra.versions.rollout import RolloutRequest
from tests.support.temporal_dev import (
    SHORT_DRAINAGE,
    SHORT_POLLER_HISTORY_SECONDS,
    DevServer,
    dev_server,
)
from tests.support.workers import WorkerProcess, start_worker

POLLER_HISTORY_SECONDS = SHORT_POLLER_HISTORY_SECONDS


@pytest.fixture(scope="session")
def versioning_server() -> Iterator[DevServer]:
    """A dev server for the versioning tests (its own: its timings differ from the defaults)."""
    with dev_server(dynamic_config=SHORT_DRAINAGE) as server:
        yield server


@dataclass
class Fleet:
    """One Worker Deployment under test: its queue, name, and the worker processes per build."""

    server: DevServer
    queue: str
    deployment: str
    log_dir: Path
    workers: dict[str, list[WorkerProcess]]

    def start(self, build: str, count: int = 2, app: str = "full") -> list[WorkerProcess]:
        """Start `count` worker processes of `build` (exactly the env a pod of it gets)."""
        started = [
            start_worker(
                self.server.address,
                self.queue,
                f"tests.apps.versioned_app:{app}",
                self.log_dir,
                {
                    "TEMPORAL_DEPLOYMENT_NAME": self.deployment,
                    "TEMPORAL_WORKER_BUILD_ID": build,
                    "WORKER_VERSIONING_DEFAULT_BEHAVIOR": "pinned",
                    "WORKER_GRACEFUL_SHUTDOWN_SECONDS": "5",
                },
            )
            for _ in range(count)
        ]
        self.workers.setdefault(build, []).extend(started)
        return started

    def stop(self, build: str) -> None:
        """Stop every worker of `build`."""
        for worker in self.workers.pop(build, []):
            worker.stop()

    def request(self, target: str, **overrides: Any) -> RolloutRequest:
        """A rollout request for this deployment with test-sized timeouts."""
        fields: dict[str, Any] = {
            "deployment": self.deployment,
            "queue": self.queue,
            "target": target,
            "pollers_timeout": 60.0,
            "routing_timeout": 30.0,
            "identity": "pulumi/test",
            "poll_interval": 0.5,
        }
        fields.update(overrides)
        return RolloutRequest(**fields)

    async def client(self) -> Client:
        """A client of the test's dev server."""
        return await Client.connect(self.server.address, namespace=self.server.namespace)


@pytest.fixture
def fleet(versioning_server: DevServer, tmp_path: Path) -> Iterator[Fleet]:
    """A fresh Worker Deployment; every worker is stopped at teardown."""
    suffix = uuid.uuid4().hex[:8]
    fleet = Fleet(versioning_server, f"vq-{suffix}", f"vd-{suffix}", tmp_path, {})
    yield fleet
    for build in list(fleet.workers):
        fleet.stop(build)


def run(coro: Any) -> Any:
    """Run a coroutine to completion (the tests are synchronous)."""
    return asyncio.run(coro)


Until = Callable[[], Any]
