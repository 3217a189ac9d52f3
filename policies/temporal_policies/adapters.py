"""From the policy SDK's argument objects to the plain `Resource` the rules read."""

from __future__ import annotations

from typing import Any

from .resources import DEFAULT_NAMESPACE, Resource
from .values import Shape, get, materialize, materialize_shape

# What stack rules read of a workload: its identity, replicas and the pod template's labels and
# worker containers' env. The rest of a big Deployment is never materialized for them.
WORKLOAD_STACK_SHAPE: Shape = {
    "apiVersion": None,
    "kind": None,
    "metadata": None,
    "spec": {
        "replicas": None,
        "template": {
            "metadata": None,
            "spec": {"containers": [{"name": None, "env": None, "envFrom": None}]},
        },
    },
}


def provider_namespace(provider: Any) -> str:
    """The namespace a Kubernetes provider puts un-namespaced objects in (`default` if unset)."""
    if provider is None:
        return DEFAULT_NAMESPACE
    value = get(materialize(provider.props), "namespace")
    return value if isinstance(value, str) and value else DEFAULT_NAMESPACE


def to_resource(
    resource_type: str, urn: str, name: str, props: Any, provider: Any, shape: Shape = None
) -> Resource:
    """A plain `Resource` from SDK args (props may be the SDK's unknown-checking proxy).

    `shape` limits what is read (see `values.materialize_shape`); None reads everything.
    """
    return Resource(
        type=resource_type,
        urn=urn,
        name=name,
        props=materialize_shape(props, shape),
        default_namespace=provider_namespace(provider),
    )
