"""The SDK runtime: Prometheus metrics tagged with queue and build ID, core logs forwarded."""

from __future__ import annotations

import logging
import re

from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from workerkit.errors import ConfigError
from workerkit.settings import WorkerSettings


def metric_tags(settings: WorkerSettings) -> dict[str, str]:
    """Global tags on every SDK metric (the SDK already adds `task_queue` to worker metrics)."""
    tags = {"worker_task_queue": settings.task_queue}
    if settings.build_id:
        tags["worker_build_id"] = settings.build_id
    return tags


def build_runtime(settings: WorkerSettings) -> Runtime:
    """A Runtime that serves `/metrics` on WORKER_METRICS_PORT (0 = none)."""
    metrics = (
        PrometheusConfig(bind_address=f"{settings.bind_address}:{settings.metrics_port}")
        if settings.metrics_port
        else None
    )
    core_logging = LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
    )
    telemetry = TelemetryConfig(
        metrics=metrics, global_tags=metric_tags(settings), logging=core_logging
    )
    try:
        return Runtime(telemetry=telemetry)
    except ValueError as err:  # the Prometheus exporter could not bind
        reason = re.sub(r" \(os error \d+\)$", "", str(err).split(": ", 1)[-1])
        raise ConfigError(
            f"WORKER_METRICS_PORT: cannot listen on {settings.bind_address}:"
            f"{settings.metrics_port} ({reason})"
        ) from None
