"""The queue's ServiceAccount: workers need no Kubernetes API access."""

from __future__ import annotations

import pulumi

from infra.settings import QueueSettings, StackSettings
from infra.specs import K8sObject, names, queue_metadata


def service_account_object(
    settings: StackSettings, queue: QueueSettings, namespace: pulumi.Input[str]
) -> K8sObject:
    """ServiceAccount without token automount."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": queue_metadata(settings, queue, names.workload(queue), namespace),
        "automountServiceAccountToken": False,
    }
