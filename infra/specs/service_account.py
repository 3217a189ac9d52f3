"""The queue's ServiceAccount: workers need no Kubernetes API access."""

from __future__ import annotations

import pulumi

from infra.names import queue_labels
from infra.settings import QueueSettings, StackSettings
from infra.specs import K8sObject, metadata, names


def service_account_object(
    settings: StackSettings, queue: QueueSettings, namespace: pulumi.Input[str]
) -> K8sObject:
    """ServiceAccount without token automount."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(
            names.workload(queue), namespace, queue_labels(settings.stack, queue.task_queue)
        ),
        "automountServiceAccountToken": False,
    }
