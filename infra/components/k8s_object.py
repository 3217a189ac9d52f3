"""Register a plain-dict Kubernetes object as the matching typed pulumi_kubernetes resource.

Typed resources (not `yaml`/generic ones) keep previews and diffs per field; the dicts keep the
camelCase field names of Kubernetes, which the SDK passes through unchanged.
"""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.specs import K8sObject

_TYPED: dict[tuple[str, str], Any] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "Service"): k8s.core.v1.Service,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): k8s.autoscaling.v2.HorizontalPodAutoscaler,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
}
"""Built-in kinds the program produces; anything else is a CustomResource (CRD kinds)."""


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def logical_name(obj: K8sObject) -> str:
    """Pulumi resource name: the Kubernetes name (URNs also carry the type, so it is unique)."""
    name: str = obj["metadata"]["name"]
    return name


def register(obj: K8sObject, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """Create the pulumi_kubernetes resource for `obj` (fields passed through as given)."""
    api_version, kind = obj["apiVersion"], obj["kind"]
    fields = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    typed = _TYPED.get((api_version, kind))
    if typed is None:
        return k8s.apiextensions.CustomResource(
            logical_name(obj), api_version=api_version, kind=kind, opts=opts, **fields
        )
    kwargs = {_snake(k): v for k, v in fields.items()}
    resource: pulumi.CustomResource = typed(logical_name(obj), opts=opts, **kwargs)
    return resource
