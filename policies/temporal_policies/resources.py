"""Kubernetes resources as the engine describes them: type token, URN, name, camelCase props."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .values import UNKNOWN, as_dict, get, is_unknown

DEFAULT_NAMESPACE = "default"


@dataclass(frozen=True)
class Resource:
    """A resource of the stack: `props` are plain data (see `values.materialize`).

    `default_namespace` is where the provider puts objects without `metadata.namespace` (the
    provider's `namespace` setting, else `default`).
    """

    type: str
    urn: str
    name: str
    props: dict[str, Any] = field(default_factory=dict)
    default_namespace: str = DEFAULT_NAMESPACE

    @cached_property
    def api_version(self) -> str:
        """`apps/v1` for `kubernetes:apps/v1:Deployment`; empty for non-Kubernetes types."""
        return split_type(self.type)[0]

    @cached_property
    def kind(self) -> str:
        """`Deployment` for `kubernetes:apps/v1:Deployment`; empty for non-Kubernetes types."""
        return split_type(self.type)[1]

    @cached_property
    def object_name(self) -> Any:
        """`metadata.name` (Pulumi fills it when auto-naming); UNKNOWN while it is not known."""
        value = get(self.props, "metadata", "name")
        return value if isinstance(value, str) or is_unknown(value) else None

    @cached_property
    def namespace(self) -> Any:
        """`metadata.namespace`, or the provider's default namespace when absent; maybe UNKNOWN."""
        value = get(self.props, "metadata", "namespace")
        if is_unknown(value):
            return UNKNOWN
        return value if isinstance(value, str) and value else self.default_namespace

    @property
    def display(self) -> str:
        """`Deployment billing-worker`: the kind and the Kubernetes name (else the Pulumi name)."""
        name = self.object_name
        return f"{self.kind or self.type} {name if isinstance(name, str) else self.name}"


def split_type(type_token: str) -> tuple[str, str]:
    """(`apps/v1`, `Deployment`) from `kubernetes:apps/v1:Deployment`; ("", "") otherwise."""
    parts = type_token.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes":
        return "", ""
    return parts[1], parts[2]


def api_group(api_version: str) -> str:
    """`apps` for `apps/v1`, `keda.sh` for `keda.sh/v1alpha1`, `core` for `core/v1`."""
    return api_version.split("/", 1)[0] if "/" in api_version else "core"


def labels_of(obj: Any) -> Any:
    """`metadata.labels` of an object as a dict (UNKNOWN when unknown, {} when absent)."""
    labels = get(obj, "metadata", "labels")
    if is_unknown(labels):
        return UNKNOWN
    return as_dict(labels)
