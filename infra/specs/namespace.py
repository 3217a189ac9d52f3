"""The stack's Namespace (when the program creates it)."""

from __future__ import annotations

from infra.names import stack_labels
from infra.settings import StackSettings
from infra.specs import K8sObject, metadata


def namespace_object(settings: StackSettings) -> K8sObject:
    """Namespace with the stack labels, enforcing the `restricted` Pod Security Standard."""
    labels = {
        **stack_labels(settings.stack),
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
        **settings.namespace.labels,
    }
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": metadata(settings.namespace.name, None, labels),
    }
