"""`temporal-graceful-shutdown`: workers get to drain before Kubernetes kills them.

Each worker container needs a preStop hook (it triggers the drain and waits for it), and the pod's
`terminationGracePeriodSeconds` (absent: 30) must cover the drain budget
`WORKER_GRACEFUL_SHUTDOWN_SECONDS` (absent: the workerkit default, 30) plus a buffer.
"""

from __future__ import annotations

from dataclasses import dataclass

from .values import as_dict, as_number, fmt_number, get, is_unknown
from .workloads import Container, Workload, env_literal

SHUTDOWN_ENV = "WORKER_GRACEFUL_SHUTDOWN_SECONDS"
CONFIG_FILE_ENV = "WORKER_CONFIG_FILE"
KUBERNETES_DEFAULT_GRACE = 30.0
PRESTOP_FIX = 'add lifecycle.preStop.exec.command ["python", "-m", "workerkit", "drain"]'


@dataclass(frozen=True)
class ShutdownSettings:
    """Knobs of the rule: the drain default when the env is absent, and the safety buffer."""

    default_shutdown_seconds: float = 30.0
    buffer_seconds: float = 10.0


def _shutdown_seconds(container: Container, default: float) -> tuple[float | None, str, str | None]:
    """(seconds, how it was found, problem): None seconds when not knowable from the manifest."""
    value = env_literal(container.spec, SHUTDOWN_ENV)
    if value is None:
        if container.spec.get("envFrom") or env_literal(container.spec, CONFIG_FILE_ENV):
            return None, "", None  # may be set by envFrom or the config file: cannot tell
        return default, f"{SHUTDOWN_ENV} absent, default {fmt_number(default)}", None
    if is_unknown(value):
        return None, "", None
    seconds = as_number(value)
    if seconds is None:
        return None, "", f'{SHUTDOWN_ENV}="{value}" is not a number; set it to seconds, e.g. "30"'
    return seconds, f"{SHUTDOWN_ENV}={fmt_number(seconds)}", None


def _has_prestop(container: Container) -> bool | None:
    """True/False, or None while the lifecycle is unknown."""
    lifecycle = container.spec.get("lifecycle")
    if is_unknown(lifecycle):
        return None
    pre_stop = as_dict(lifecycle).get("preStop")
    if is_unknown(pre_stop):
        return None
    return isinstance(pre_stop, dict) and any(v is not None for v in pre_stop.values())


def check_graceful_shutdown(
    workload: Workload, settings: ShutdownSettings | None = None
) -> list[str]:
    """Messages for worker containers without preStop or with a grace period below the drain."""
    settings = settings or ShutdownSettings()
    messages: list[str] = []
    grace_value = get(workload.pod_spec, "terminationGracePeriodSeconds")
    grace: float | None
    if grace_value is None:
        grace, grace_text = KUBERNETES_DEFAULT_GRACE, "terminationGracePeriodSeconds absent (30)"
    else:
        grace = as_number(grace_value)
        shown = fmt_number(grace) if grace is not None else ""
        grace_text = f"terminationGracePeriodSeconds={shown}"
    for container in workload.containers:
        where = f'{workload.display}: container "{container.name}"'
        if _has_prestop(container) is False:
            messages.append(f"{where} has no preStop hook; {PRESTOP_FIX}")
        seconds, found, problem = _shutdown_seconds(container, settings.default_shutdown_seconds)
        if problem is not None:
            messages.append(f"{where}: {problem}")
            continue
        if seconds is None:
            continue
        if seconds <= 0:
            messages.append(
                f"{where}: {found} leaves no time to finish in-flight tasks; set it > 0, e.g. 30"
            )
            continue
        needed = seconds + settings.buffer_seconds
        if grace is not None and grace < needed:
            buffer = fmt_number(settings.buffer_seconds)
            messages.append(
                f"{where}: {grace_text} < {found} + {buffer} s buffer; "
                f"set terminationGracePeriodSeconds >= {fmt_number(needed)}"
            )
    return messages
