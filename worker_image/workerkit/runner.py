"""Run one worker: connect, poll, and drain on SIGTERM, SIGINT or `POST /drain`."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.runtime import Runtime
from temporalio.worker import (
    PollerBehavior,
    PollerBehaviorAutoscaling,
    PollerBehaviorSimpleMaximum,
    Worker,
    WorkerDeploymentConfig,
)

from workerkit.app import WorkerApp
from workerkit.connection import connect_with_backoff
from workerkit.errors import ConfigError
from workerkit.health import HealthServer
from workerkit.lifecycle import InFlightCounter, Lifecycle
from workerkit.settings import Tuning, WorkerSettings
from workerkit.telemetry import build_runtime

log = logging.getLogger("workerkit")

# How long past the graceful budget the runner waits for cancelled activities to report back.
CANCEL_GRACE_SECONDS = 5.0
# After a drain asked over HTTP (the preStop hook), how long the drained process waits for the
# kubelet's SIGTERM: exiting at once would kill the hook's command before it sees "drained".
DRAINED_LINGER_SECONDS = 5.0
_BEHAVIORS = {
    "pinned": VersioningBehavior.PINNED,
    "auto-upgrade": VersioningBehavior.AUTO_UPGRADE,
}


def _poller(mode: str, maximum: int | None) -> PollerBehavior:
    if mode == "fixed":
        return PollerBehaviorSimpleMaximum(maximum=maximum or 5)
    return PollerBehaviorAutoscaling(maximum=maximum or 100)


def _tuning_kwargs(tuning: Tuning) -> dict[str, Any]:
    optional = {
        "max_concurrent_activities": tuning.max_concurrent_activities,
        "max_concurrent_workflow_tasks": tuning.max_concurrent_workflow_tasks,
        "max_concurrent_local_activities": tuning.max_concurrent_local_activities,
        "max_cached_workflows": tuning.max_cached_workflows,
        "max_activities_per_second": tuning.max_activities_per_second,
        "max_task_queue_activities_per_second": tuning.max_task_queue_activities_per_second,
    }
    kwargs: dict[str, Any] = {k: v for k, v in optional.items() if v is not None}
    kwargs["workflow_task_poller_behavior"] = _poller(
        tuning.poller_mode, tuning.workflow_task_pollers
    )
    kwargs["activity_task_poller_behavior"] = _poller(
        tuning.poller_mode, tuning.activity_task_pollers
    )
    return kwargs


def worker_kwargs(settings: WorkerSettings, app: WorkerApp, lifecycle: Lifecycle) -> dict[str, Any]:
    """Keyword arguments for `temporalio.worker.Worker` from the settings and the app."""
    kwargs: dict[str, Any] = {
        "task_queue": settings.task_queue,
        "workflows": list(app.workflows),
        "activities": list(app.activities),
        "graceful_shutdown_timeout": timedelta(seconds=settings.graceful_shutdown_seconds),
        "interceptors": [InFlightCounter(lifecycle)],
        **_tuning_kwargs(settings.tuning),
    }
    if app.has_sync_activities:
        kwargs["activity_executor"] = concurrent.futures.ThreadPoolExecutor(
            max_workers=settings.tuning.max_concurrent_activities or 100
        )
    if settings.versioning is not None:
        kwargs["deployment_config"] = WorkerDeploymentConfig(
            version=WorkerDeploymentVersion(
                deployment_name=settings.versioning.deployment_name,
                build_id=settings.versioning.build_id,
            ),
            use_worker_versioning=True,
            default_versioning_behavior=_BEHAVIORS[settings.versioning.default_behavior],
        )
    return kwargs


def _install_signal_handlers(lifecycle: Lifecycle) -> None:
    loop = asyncio.get_running_loop()
    signals_seen: list[int] = []

    def on_signal(signum: int) -> None:
        name = signal.Signals(signum).name
        if signals_seen:
            log.warning("second stop signal: exiting at once", extra={"signal": name})
            sys.stdout.flush()
            os._exit(128 + signum)
        signals_seen.append(signum)
        lifecycle.signal_received.set()
        if not lifecycle.request_stop(name):
            log.info("stop signal joins the drain already under way", extra={"signal": name})

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)


async def run(settings: WorkerSettings, app: WorkerApp, connect: Mapping[str, Any]) -> int:
    """Serve the task queue until asked to stop; return the process exit code.

    Raises ConfigError when the health or metrics port cannot be bound.
    """
    lifecycle = Lifecycle(settings.task_queue, settings.graceful_shutdown_seconds)
    runtime = build_runtime(settings)
    _install_signal_handlers(lifecycle)
    health = HealthServer(lifecycle.status, lambda: _request_drain_over_http(lifecycle))
    try:
        await health.start(settings.bind_address, settings.health_port)
    except OSError as err:
        raise ConfigError(
            f"WORKER_HEALTH_PORT: cannot listen on {settings.bind_address}:{settings.health_port}"
            f" ({os.strerror(err.errno) if err.errno else err})"
        ) from None
    try:
        return await _serve(runtime, settings, app, connect, lifecycle)
    finally:
        await health.stop()


def _request_drain_over_http(lifecycle: Lifecycle) -> None:
    if lifecycle.request_stop("POST /drain"):
        log.info("drain requested over HTTP")


async def _serve(
    runtime: Runtime,
    settings: WorkerSettings,
    app: WorkerApp,
    connect: Mapping[str, Any],
    lifecycle: Lifecycle,
) -> int:
    log.info(
        "connecting to Temporal",
        extra={"address": connect.get("target_host"), "metrics_port": settings.metrics_port},
    )
    client = await connect_with_backoff(
        connect, runtime, lifecycle.stop_requested, settings.connect_max_backoff_seconds
    )
    if client is None:
        log.info("stopped before connecting: nothing to drain")
        lifecycle.state = "drained"
        return 0
    return await _poll_until_stopped(client, settings, app, lifecycle)


async def _poll_until_stopped(
    client: Client, settings: WorkerSettings, app: WorkerApp, lifecycle: Lifecycle
) -> int:
    worker = Worker(client, **worker_kwargs(settings, app, lifecycle))
    run_task = asyncio.create_task(worker.run())
    stop_task = asyncio.create_task(lifecycle.stop_requested.wait())
    while not worker.is_running and not run_task.done() and not stop_task.done():
        await asyncio.sleep(0.02)
    if worker.is_running:
        lifecycle.state = "ready"
        log.info(
            "polling", extra={"workflows": len(app.workflows), "activities": len(app.activities)}
        )
    await asyncio.wait({run_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    if run_task.done():
        stop_task.cancel()
        lifecycle.state = "failed"
        error = run_task.exception()
        log.error("worker stopped on its own", extra={"error": str(error) or repr(error)})
        return 1
    lifecycle.start_draining()
    log.info(
        "draining",
        extra={
            "reason": lifecycle.stop_reason,
            "in_flight_activities": lifecycle.in_flight_activities,
            "graceful_shutdown_seconds": settings.graceful_shutdown_seconds,
        },
    )
    shutdown = asyncio.create_task(worker.shutdown())
    try:
        await asyncio.wait_for(
            asyncio.shield(run_task),
            timeout=settings.graceful_shutdown_seconds + CANCEL_GRACE_SECONDS,
        )
    except TimeoutError:
        lifecycle.state = "failed"
        log.error(
            "activities ignored cancellation after the drain budget",
            extra={"in_flight_activities": lifecycle.in_flight_activities},
        )
        return 1
    except Exception as err:
        lifecycle.state = "failed"
        log.error("worker failed while draining", extra={"error": str(err)})
        return 1
    await shutdown
    lifecycle.state = "drained"
    log.info(
        "drained",
        extra={
            "drain_seconds": round(lifecycle.drain_elapsed(), 3),
            "completed_activities": lifecycle.completed_activities,
        },
    )
    if not lifecycle.signal_received.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(lifecycle.signal_received.wait(), DRAINED_LINGER_SECONDS)
    return 0
