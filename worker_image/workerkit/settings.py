"""Worker settings from `WORKER_*` / `TEMPORAL_*` env and an optional JSON config file.

Each `WORKER_*` setting has one parser here; the config file uses the same names and the same
parsers, and env wins over file.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from workerkit.errors import ConfigError

log = logging.getLogger("workerkit.settings")

DEFAULT_GRACEFUL_SHUTDOWN_SECONDS = 30.0
DEFAULT_HEALTH_PORT = 8080
DEFAULT_METRICS_PORT = 9090

PollerMode = Literal["autoscaling", "fixed"]
VersioningBehavior = Literal["pinned", "auto-upgrade"]


def _positive_float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number > 0 (got {raw!r})") from None
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{name} must be a number > 0 (got {raw!r})")
    return value


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer >= 1 (got {raw!r})") from None
    if value < 1:
        raise ConfigError(f"{name} must be an integer >= 1 (got {raw!r})")
    return value


def _port(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a port number 1-65535 (got {raw!r})") from None
    if not 1 <= value <= 65535:
        raise ConfigError(f"{name} must be a port number 1-65535 (got {raw!r})")
    return value


def _optional_port(name: str, raw: str) -> int:
    """A port, or 0 to turn the server off."""
    return 0 if raw.strip() == "0" else _port(name, raw)


def _choice(*allowed: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip()
        if name == "WORKER_LOG_LEVEL":
            value = value.upper()
        if value not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)} (got {raw!r})")
        return value

    return parse


def _text(name: str, raw: str) -> str:
    if not raw.strip():
        raise ConfigError(f"{name} must not be empty")
    return raw.strip()


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "WORKER_GRACEFUL_SHUTDOWN_SECONDS": _positive_float,
    "WORKER_HEALTH_PORT": _port,
    "WORKER_METRICS_PORT": _optional_port,
    "WORKER_BIND_ADDRESS": _text,
    "WORKER_MAX_CONCURRENT_ACTIVITIES": _positive_int,
    "WORKER_MAX_CONCURRENT_WORKFLOW_TASKS": _positive_int,
    "WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES": _positive_int,
    "WORKER_MAX_CACHED_WORKFLOWS": _positive_int,
    "WORKER_MAX_ACTIVITIES_PER_SECOND": _positive_float,
    "WORKER_MAX_TASK_QUEUE_ACTIVITIES_PER_SECOND": _positive_float,
    "WORKER_POLLER_MODE": _choice("autoscaling", "fixed"),
    "WORKER_WORKFLOW_TASK_POLLERS": _positive_int,
    "WORKER_ACTIVITY_TASK_POLLERS": _positive_int,
    "WORKER_VERSIONING_DEFAULT_BEHAVIOR": _choice("pinned", "auto-upgrade"),
    "WORKER_LOG_LEVEL": _choice("DEBUG", "INFO", "WARNING", "ERROR"),
    "WORKER_CONNECT_MAX_BACKOFF_SECONDS": _positive_float,
}

# WORKER_* names that are not tuning knobs but are still ours (not typos).
_OTHER_KNOWN = {"WORKER_APP", "WORKER_CONFIG_FILE", "WORKER_IMAGE_BUILD_ID"}


@dataclass(frozen=True)
class Tuning:
    """Worker tuning knobs; None means the SDK's default."""

    max_concurrent_activities: int | None = None
    max_concurrent_workflow_tasks: int | None = None
    max_concurrent_local_activities: int | None = None
    max_cached_workflows: int | None = None
    max_activities_per_second: float | None = None
    max_task_queue_activities_per_second: float | None = None
    poller_mode: PollerMode = "autoscaling"
    workflow_task_pollers: int | None = None
    activity_task_pollers: int | None = None


@dataclass(frozen=True)
class Versioning:
    """Worker Versioning: the worker deployment version this process belongs to."""

    deployment_name: str
    build_id: str
    default_behavior: VersioningBehavior = "pinned"


@dataclass(frozen=True)
class WorkerSettings:
    """Everything the runtime needs besides the Temporal connection."""

    task_queue: str
    app: str
    graceful_shutdown_seconds: float = DEFAULT_GRACEFUL_SHUTDOWN_SECONDS
    health_port: int = DEFAULT_HEALTH_PORT
    metrics_port: int = DEFAULT_METRICS_PORT
    bind_address: str = "0.0.0.0"
    log_level: str = "INFO"
    connect_max_backoff_seconds: float = 30.0
    versioning: Versioning | None = None
    image_build_id: str | None = None
    tuning: Tuning = Tuning()

    @property
    def build_id(self) -> str | None:
        """The build ID to tag logs and metrics with."""
        return self.versioning.build_id if self.versioning else self.image_build_id


def read_config_file(path: str) -> dict[str, str]:
    """Read the JSON tuning file named by WORKER_CONFIG_FILE into a name → raw text mapping."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"WORKER_CONFIG_FILE: cannot read {path} ({err.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"WORKER_CONFIG_FILE: {path} is not valid JSON ({err.msg})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"WORKER_CONFIG_FILE: {path} must hold a JSON object")
    raw: dict[str, str] = {}
    for key, value in data.items():
        if key not in _PARSERS:
            raise ConfigError(
                f"WORKER_CONFIG_FILE: unknown key {key!r} in {path}{_did_you_mean(key)}"
            )
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ConfigError(f"WORKER_CONFIG_FILE: {key} in {path} must be a number or string")
        raw[key] = str(value)
    return raw


def _did_you_mean(name: str) -> str:
    close = difflib.get_close_matches(name, [*_PARSERS, *_OTHER_KNOWN], n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def merged_worker_env(env: Mapping[str, str]) -> dict[str, str]:
    """The `WORKER_*` settings in effect: the config file's, overridden by env."""
    merged: dict[str, str] = {}
    path = env.get("WORKER_CONFIG_FILE", "").strip()
    if path:
        merged.update(read_config_file(path))
    merged.update({k: v for k, v in env.items() if k in _PARSERS})
    return merged


def _parsed(merged: Mapping[str, str], name: str) -> Any:
    return _PARSERS[name](name, merged[name]) if name in merged else None


def unknown_worker_variables(env: Mapping[str, str]) -> list[str]:
    """WORKER_* env names that are not settings, each with a suggestion (likely typos)."""
    return [
        f"{name}{_did_you_mean(name)}"
        for name in sorted(env)
        if name.startswith("WORKER_") and name not in _PARSERS and name not in _OTHER_KNOWN
    ]


def load_settings(env: Mapping[str, str]) -> WorkerSettings:
    """Parse and validate the worker settings; raise ConfigError on the first problem."""
    task_queue = env.get("TEMPORAL_TASK_QUEUE", "").strip()
    if not task_queue:
        raise ConfigError("TEMPORAL_TASK_QUEUE is required (the task queue this worker polls)")
    app = env.get("WORKER_APP", "").strip()
    if not app:
        raise ConfigError("WORKER_APP is required (module:attribute of the workflows/activities)")
    merged = merged_worker_env(env)
    tuning = _tuning(merged)
    health_port = _parsed(merged, "WORKER_HEALTH_PORT") or DEFAULT_HEALTH_PORT
    metrics_port = _parsed(merged, "WORKER_METRICS_PORT")
    metrics_port = DEFAULT_METRICS_PORT if metrics_port is None else metrics_port
    if metrics_port == health_port:
        raise ConfigError(
            f"WORKER_METRICS_PORT must differ from WORKER_HEALTH_PORT (both {health_port})"
        )
    graceful = _parsed(merged, "WORKER_GRACEFUL_SHUTDOWN_SECONDS")
    return WorkerSettings(
        task_queue=task_queue,
        app=app,
        graceful_shutdown_seconds=graceful or DEFAULT_GRACEFUL_SHUTDOWN_SECONDS,
        health_port=health_port,
        metrics_port=metrics_port,
        bind_address=_parsed(merged, "WORKER_BIND_ADDRESS") or "0.0.0.0",
        log_level=_parsed(merged, "WORKER_LOG_LEVEL") or "INFO",
        connect_max_backoff_seconds=_parsed(merged, "WORKER_CONNECT_MAX_BACKOFF_SECONDS") or 30.0,
        versioning=_versioning(env, merged),
        image_build_id=env.get("WORKER_IMAGE_BUILD_ID", "").strip() or None,
        tuning=tuning,
    )


def _tuning(merged: Mapping[str, str]) -> Tuning:
    mode: PollerMode = _parsed(merged, "WORKER_POLLER_MODE") or "autoscaling"
    workflow_pollers = _parsed(merged, "WORKER_WORKFLOW_TASK_POLLERS")
    # The SDK rejects fewer than two workflow task pollers (one normal, one sticky).
    if workflow_pollers is not None and workflow_pollers < 2:
        raise ConfigError(f"WORKER_WORKFLOW_TASK_POLLERS must be >= 2 (got {workflow_pollers})")
    return Tuning(
        max_concurrent_activities=_parsed(merged, "WORKER_MAX_CONCURRENT_ACTIVITIES"),
        max_concurrent_workflow_tasks=_parsed(merged, "WORKER_MAX_CONCURRENT_WORKFLOW_TASKS"),
        max_concurrent_local_activities=_parsed(merged, "WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES"),
        max_cached_workflows=_parsed(merged, "WORKER_MAX_CACHED_WORKFLOWS"),
        max_activities_per_second=_parsed(merged, "WORKER_MAX_ACTIVITIES_PER_SECOND"),
        max_task_queue_activities_per_second=_parsed(
            merged, "WORKER_MAX_TASK_QUEUE_ACTIVITIES_PER_SECOND"
        ),
        poller_mode=mode,
        workflow_task_pollers=workflow_pollers,
        activity_task_pollers=_parsed(merged, "WORKER_ACTIVITY_TASK_POLLERS"),
    )


def _versioning(env: Mapping[str, str], merged: Mapping[str, str]) -> Versioning | None:
    name = env.get("TEMPORAL_DEPLOYMENT_NAME", "").strip()
    build_id = env.get("TEMPORAL_WORKER_BUILD_ID", "").strip()
    if bool(name) != bool(build_id):
        missing = "TEMPORAL_WORKER_BUILD_ID" if name else "TEMPORAL_DEPLOYMENT_NAME"
        raise ConfigError(
            "TEMPORAL_DEPLOYMENT_NAME and TEMPORAL_WORKER_BUILD_ID must be set together "
            f"({missing} is missing)"
        )
    if not name:
        return None
    behavior: VersioningBehavior = _parsed(merged, "WORKER_VERSIONING_DEFAULT_BEHAVIOR") or "pinned"
    return Versioning(deployment_name=name, build_id=build_id, default_behavior=behavior)


def drain_budget(env: Mapping[str, str]) -> tuple[int, float]:
    """(health port, graceful shutdown seconds) for the preStop drain command."""
    merged = merged_worker_env(env)
    port = _parsed(merged, "WORKER_HEALTH_PORT") or DEFAULT_HEALTH_PORT
    graceful = _parsed(merged, "WORKER_GRACEFUL_SHUTDOWN_SECONDS")
    return port, graceful or DEFAULT_GRACEFUL_SHUTDOWN_SECONDS
