"""Fixtures for the worker tier: worker subprocesses against the session's dev server."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tests.support.temporal_dev import DevServer
from tests.support.workers import WorkerProcess, start_worker


@pytest.fixture
def queue() -> str:
    """A task queue name no other test uses."""
    return f"q-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def slow_log(tmp_path: Path) -> str:
    """Where the test app records activity attempts."""
    return str(tmp_path / "activities.jsonl")


StartWorker = Callable[..., WorkerProcess]


@pytest.fixture
def spawn(temporal_server: DevServer, tmp_path: Path, slow_log: str) -> Iterator[StartWorker]:
    """Start worker subprocesses on the dev server; every one is killed at teardown."""
    started: list[WorkerProcess] = []

    def _spawn(
        task_queue: str, app: str, settings: Mapping[str, str] | None = None
    ) -> WorkerProcess:
        merged = {"SLOW_APP_LOG": slow_log, "ORDERS_BLOB_DIR": str(tmp_path / "blobs")}
        merged.update(settings or {})
        worker = start_worker(temporal_server.address, task_queue, app, tmp_path, merged)
        started.append(worker)
        return worker

    yield _spawn
    for worker in started:
        worker.stop()
