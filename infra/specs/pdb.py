"""The queue's PodDisruptionBudget: voluntary disruptions never take the last poller."""

from __future__ import annotations

from typing import Any

import pulumi

from infra.settings import QueueSettings, StackSettings
from infra.specs import K8sObject
from infra.specs.release import Release, workload_metadata, workload_selector


def pdb_object(
    settings: StackSettings,
    queue: QueueSettings,
    namespace: pulumi.Input[str],
    release: Release | None = None,
) -> K8sObject:
    """policy/v1 PDB of one Deployment; unhealthy pods may always be evicted (they poll nothing)."""
    spec: dict[str, Any] = {
        "selector": {"matchLabels": workload_selector(settings, queue, release)},
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
    }
    if queue.pdb.min_available is not None:
        spec["minAvailable"] = queue.pdb.min_available
    else:
        spec["maxUnavailable"] = queue.pdb.max_unavailable
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": workload_metadata(settings, queue, namespace, release),
        "spec": spec,
    }
