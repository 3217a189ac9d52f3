"""Pure spec functions: typed settings -> Kubernetes objects as plain dicts (camelCase, as YAML).

Values that only exist at deployment time (image reference, namespace, secret values) are passed in
as `pulumi.Input` values; unit tests pass plain strings.
"""

from __future__ import annotations

from typing import Any

import pulumi

from infra.names import queue_labels
from infra.settings import QueueSettings, StackSettings

K8sObject = dict[str, Any]
"""One Kubernetes object: apiVersion, kind, metadata, and its body fields."""


def metadata(
    name: str,
    namespace: pulumi.Input[str] | None,
    labels: dict[str, str],
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """ObjectMeta with an explicit name (objects are looked up by name by people and policies)."""
    meta: dict[str, Any] = {"name": name, "labels": dict(labels)}
    if namespace is not None:
        meta["namespace"] = namespace
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def queue_metadata(
    settings: StackSettings,
    queue: QueueSettings,
    name: str,
    namespace: pulumi.Input[str] | None,
) -> dict[str, Any]:
    """ObjectMeta of a queue's object, carrying the queue's labels (docs/architecture.md §2)."""
    return metadata(name, namespace, queue_labels(settings.stack, queue.task_queue))
