"""The queue's PodDisruptionBudget: voluntary disruptions never take the last poller."""

from __future__ import annotations

from typing import Any

import pulumi

from infra.names import selector_labels
from infra.settings import QueueSettings, StackSettings
from infra.specs import K8sObject, names, queue_metadata


def pdb_object(
    settings: StackSettings, queue: QueueSettings, namespace: pulumi.Input[str]
) -> K8sObject:
    """policy/v1 PDB; unhealthy pods may always be evicted (they poll nothing)."""
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector_labels(settings.stack, queue.task_queue)},
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
    }
    if queue.pdb.min_available is not None:
        spec["minAvailable"] = queue.pdb.min_available
    else:
        spec["maxUnavailable"] = queue.pdb.max_unavailable
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": queue_metadata(settings, queue, names.workload(queue), namespace),
        "spec": spec,
    }
