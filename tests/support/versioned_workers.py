"""Host worker processes that poll as one build of a versioned stack.

While the local cluster's pods run on kwok (no containers), the pollers a versioned `pulumi up`
waits for come from here: for each queue of the stack, `python -m workerkit` processes with exactly
the env the program renders for that build (TEMPORAL_DEPLOYMENT_NAME, TEMPORAL_WORKER_BUILD_ID, the
stack's Temporal namespace and default behavior), against a local dev server.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from infra.contract import PROJECT
from infra.settings import StackSettings
from infra.validate import parse_stack_settings
from tests.support.temporal_dev import DevServer
from tests.support.workers import WorkerProcess, start_worker


def settings_of_config(config: Mapping[str, Any], stack: str) -> StackSettings:
    """The validated settings of a stack file's `config` mapping (keys with the project prefix)."""
    prefix = f"{PROJECT}:"
    values = {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}
    return parse_stack_settings(PROJECT, stack, values, set())


def build_env(settings: StackSettings, queue_name: str, build_id: str) -> dict[str, str]:
    """The versioning env a pod of `build_id` gets for `queue_name`."""
    queue = next(q for q in settings.queues if q.task_queue == queue_name)
    return {
        "TEMPORAL_DEPLOYMENT_NAME": queue.deployment_name,
        "TEMPORAL_WORKER_BUILD_ID": build_id,
        "WORKER_VERSIONING_DEFAULT_BEHAVIOR": settings.versioning.default_behavior,
        "WORKER_GRACEFUL_SHUTDOWN_SECONDS": "5",
    }


@contextmanager
def build_pollers(
    settings: StackSettings,
    server: DevServer,
    build_id: str,
    log_dir: Path,
    per_queue: int = 2,
) -> Iterator[list[WorkerProcess]]:
    """`per_queue` workers of `build_id` for every queue of the stack; stopped on exit."""
    started: list[WorkerProcess] = []
    try:
        for queue in settings.queues:
            env = build_env(settings, queue.task_queue, build_id)
            env["ORDERS_BLOB_DIR"] = str(log_dir / "blobs")
            for _ in range(per_queue):
                started.append(
                    start_worker(
                        server.address,
                        queue.task_queue,
                        queue.app,
                        log_dir / build_id,
                        env,
                        namespace=settings.temporal.namespace,
                    )
                )
        yield started
    finally:
        for worker in started:
            worker.stop()
