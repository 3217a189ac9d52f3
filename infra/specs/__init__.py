"""Pure spec functions: typed settings -> Kubernetes objects as plain dicts (camelCase, as YAML).

Values that only exist at deployment time (image reference, namespace, secret values) are passed in
as `pulumi.Input` values; unit tests pass plain strings.
"""

from __future__ import annotations

from typing import Any

import pulumi

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
