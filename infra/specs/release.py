"""One build of a versioned queue, as the specs render it: its own Deployment, autoscaler and PDB.

`None` in place of a `Release` means the queue is unversioned: one Deployment named after the queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from infra.names import (
    SCALED_DOWN_ANNOTATION,
    VERSION_ROLE_ANNOTATION,
    dns_label,
    queue_labels,
    selector_labels,
    version_labels,
)
from infra.settings import QueueSettings, StackSettings
from infra.specs import metadata


@dataclass(frozen=True)
class Release:
    """A build of the queue: its id, what the program knows of it, and whether it serves."""

    build_id: str
    role: str  # target | current | ramping | draining | drained | inactive | unknown
    serving: bool = True  # False: drained past scaledownDelay, 0 replicas and no autoscaler
    scaled_down_at: str | None = None  # ISO 8601, when not serving


def workload_name(queue: QueueSettings, release: Release | None) -> str:
    """Deployment/HPA/ScaledObject/PDB name: `<queue>-worker[-<build>]`, at most 63 characters.

    A build id that is not a valid DNS label, or too long, is sanitised and suffixed with its hash,
    so two builds never share a name.
    """
    if release is None:
        return queue.workload_name
    room = 63 - len(queue.workload_name) - 1
    return f"{queue.workload_name}-{dns_label(release.build_id, room)}"


def workload_selector(
    settings: StackSettings, queue: QueueSettings, release: Release | None
) -> dict[str, str]:
    """The pods of one Deployment: the queue's selector, plus the build for a versioned one."""
    return _with_version(selector_labels(settings.stack, queue.task_queue), queue, release)


def release_annotations(release: Release | None) -> dict[str, Any]:
    """The role (and scale-down time) the program rendered a version with."""
    if release is None:
        return {}
    annotations = {VERSION_ROLE_ANNOTATION: release.role}
    if release.scaled_down_at is not None:
        annotations[SCALED_DOWN_ANNOTATION] = release.scaled_down_at
    return annotations


def workload_labels(
    settings: StackSettings, queue: QueueSettings, release: Release | None
) -> dict[str, str]:
    """The queue's labels, plus the version's for a versioned workload."""
    return _with_version(queue_labels(settings.stack, queue.task_queue), queue, release)


def workload_metadata(
    settings: StackSettings,
    queue: QueueSettings,
    namespace: pulumi.Input[str],
    release: Release | None,
) -> dict[str, Any]:
    """ObjectMeta of a workload's Deployment-scoped objects (autoscaler, PDB)."""
    return metadata(
        workload_name(queue, release), namespace, workload_labels(settings, queue, release)
    )


def _with_version(
    labels: dict[str, str], queue: QueueSettings, release: Release | None
) -> dict[str, str]:
    if release is not None:
        labels.update(version_labels(queue.deployment_name, release.build_id))
    return labels
