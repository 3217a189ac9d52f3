"""Policy names, their config schemas and typed readers of the config the engine sends.

The engine fills every property's schema default, applies `--policy-pack-config`, validates the
result against these schemas and sends it with `Configure`; numbers arrive as floats.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .shutdown import ShutdownSettings
from .values import as_int, as_number

PACK_NAME = "temporal-workers"

TWO_POLLERS = "temporal-two-pollers-per-queue"
GRACEFUL_SHUTDOWN = "temporal-graceful-shutdown"
IMAGE_DIGEST = "temporal-image-pinned-by-digest"
RESOURCES = "temporal-worker-resources"
PROBES = "temporal-worker-probes"
SECURITY_CONTEXT = "temporal-worker-security-context"
SPREAD = "temporal-worker-spread-across-nodes"
CREDENTIALS = "temporal-credentials-from-secrets"
PDB_PER_QUEUE = "temporal-pdb-per-queue"
SCALE_DOWN = "temporal-hpa-scale-down-stabilization"

MANDATORY_POLICIES = (TWO_POLLERS, GRACEFUL_SHUTDOWN)
ADVISORY_POLICIES = (
    IMAGE_DIGEST,
    RESOURCES,
    PROBES,
    SECURITY_CONTEXT,
    SPREAD,
    CREDENTIALS,
    PDB_PER_QUEUE,
    SCALE_DOWN,
)

DEFAULT_MIN_POLLERS = 2
DEFAULT_BUFFER_SECONDS = 10.0
DEFAULT_SHUTDOWN_SECONDS = 30.0  # workerkit's default for WORKER_GRACEFUL_SHUTDOWN_SECONDS
DEFAULT_MIN_STABILIZATION_SECONDS = 300.0  # the HPA's own default scale-down window

SCHEMAS: dict[str, dict[str, dict[str, Any]]] = {
    TWO_POLLERS: {
        "minPollers": {
            "type": "integer",
            "minimum": 1,
            "default": DEFAULT_MIN_POLLERS,
            "description": "Guaranteed pollers (pods) every task queue needs.",
        },
    },
    GRACEFUL_SHUTDOWN: {
        "bufferSeconds": {
            "type": "number",
            "minimum": 0,
            "default": DEFAULT_BUFFER_SECONDS,
            "description": "Seconds terminationGracePeriodSeconds must exceed the drain budget by.",
        },
        "defaultShutdownSeconds": {
            "type": "number",
            "exclusiveMinimum": 0,
            "default": DEFAULT_SHUTDOWN_SECONDS,
            "description": "Drain budget assumed when WORKER_GRACEFUL_SHUTDOWN_SECONDS is absent.",
        },
    },
    SCALE_DOWN: {
        "minStabilizationWindowSeconds": {
            "type": "number",
            "minimum": 0,
            "default": DEFAULT_MIN_STABILIZATION_SECONDS,
            "description": "Smallest scale-down stabilization window for worker autoscalers.",
        },
    },
}


@dataclass(frozen=True)
class PollerSettings:
    """Config of `temporal-two-pollers-per-queue`."""

    min_pollers: int = DEFAULT_MIN_POLLERS


def poller_settings(config: Mapping[str, Any]) -> PollerSettings:
    """Read `minPollers` (the engine sends `2.0`)."""
    value = as_int(config.get("minPollers"))
    return PollerSettings(value if value is not None and value >= 1 else DEFAULT_MIN_POLLERS)


def shutdown_settings(config: Mapping[str, Any]) -> ShutdownSettings:
    """Read `bufferSeconds` and `defaultShutdownSeconds`."""
    buffer = as_number(config.get("bufferSeconds"))
    default = as_number(config.get("defaultShutdownSeconds"))
    return ShutdownSettings(
        default_shutdown_seconds=default
        if default is not None and default > 0
        else (DEFAULT_SHUTDOWN_SECONDS),
        buffer_seconds=buffer if buffer is not None and buffer >= 0 else DEFAULT_BUFFER_SECONDS,
    )


def min_stabilization_seconds(config: Mapping[str, Any]) -> float:
    """Read `minStabilizationWindowSeconds`."""
    value = as_number(config.get("minStabilizationWindowSeconds"))
    return value if value is not None and value >= 0 else DEFAULT_MIN_STABILIZATION_SECONDS
