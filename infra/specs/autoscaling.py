"""Autoscaling of a queue: an HPA (autoscaling/v2), or a KEDA ScaledObject on the queue backlog."""

from __future__ import annotations

from typing import Any

import pulumi

from infra.settings import QueueSettings, StackSettings
from infra.specs import K8sObject
from infra.specs.release import Release, workload_metadata, workload_name


def _scale_down(queue: QueueSettings) -> dict[str, Any]:
    return {
        "stabilizationWindowSeconds": queue.autoscaling.scale_down_stabilization_seconds,
        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
        "selectPolicy": "Min",
    }


def _resource_metric(name: str, utilization: int) -> dict[str, Any]:
    return {
        "type": "Resource",
        "resource": {
            "name": name,
            "target": {"type": "Utilization", "averageUtilization": utilization},
        },
    }


def hpa_object(
    settings: StackSettings,
    queue: QueueSettings,
    namespace: pulumi.Input[str],
    release: Release | None = None,
) -> K8sObject:
    """HPA with CPU (and optional memory) targets and a stabilised, one-pod-a-minute scale-down."""
    scaling = queue.autoscaling
    metrics = [_resource_metric("cpu", scaling.cpu_utilization)]
    if scaling.memory_utilization is not None:
        metrics.append(_resource_metric("memory", scaling.memory_utilization))
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": workload_metadata(settings, queue, namespace, release),
        "spec": {
            "scaleTargetRef": _scale_target(queue, release),
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": metrics,
            "behavior": {
                "scaleDown": _scale_down(queue),
                "scaleUp": {
                    "stabilizationWindowSeconds": 0,
                    "policies": [
                        {"type": "Percent", "value": 100, "periodSeconds": 30},
                        {"type": "Pods", "value": 4, "periodSeconds": 30},
                    ],
                    "selectPolicy": "Max",
                },
            },
        },
    }


def _scale_target(queue: QueueSettings, release: Release | None) -> dict[str, str]:
    """The Deployment, as an HPA's or a ScaledObject's scaleTargetRef."""
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": workload_name(queue, release)}


def scaled_object(
    settings: StackSettings,
    queue: QueueSettings,
    namespace: pulumi.Input[str],
    build_id: pulumi.Input[str] | None,
    release: Release | None = None,
) -> K8sObject:
    """KEDA ScaledObject: the `temporal` trigger (task queue backlog) plus CPU utilisation."""
    scaling = queue.autoscaling
    keda = scaling.keda
    temporal = settings.temporal
    trigger_metadata: dict[str, Any] = {
        "endpoint": temporal.address,
        "namespace": temporal.namespace,
        "taskQueue": queue.task_queue,
        "queueTypes": keda.queue_types,
        "targetQueueSize": str(keda.target_queue_size),
        "activationTargetQueueSize": str(keda.activation_target_queue_size),
    }
    if temporal.tls.server_name:
        trigger_metadata["tlsServerName"] = temporal.tls.server_name
    if settings.versioning.enabled and build_id is not None:
        trigger_metadata["workerDeploymentName"] = queue.deployment_name
        trigger_metadata["workerDeploymentBuildId"] = build_id
    temporal_trigger: dict[str, Any] = {"type": "temporal", "metadata": trigger_metadata}
    if keda.authentication_ref is not None:
        temporal_trigger["authenticationRef"] = {"name": keda.authentication_ref}
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": workload_metadata(settings, queue, namespace, release),
        "spec": {
            "scaleTargetRef": _scale_target(queue, release),
            "minReplicaCount": scaling.min_replicas,
            "maxReplicaCount": scaling.max_replicas,
            "pollingInterval": keda.polling_interval,
            "cooldownPeriod": keda.cooldown_period,
            "advanced": {
                "horizontalPodAutoscalerConfig": {"behavior": {"scaleDown": _scale_down(queue)}}
            },
            "triggers": [
                temporal_trigger,
                {
                    "type": "cpu",
                    "metricType": "Utilization",
                    "metadata": {"value": str(scaling.cpu_utilization)},
                },
            ],
        },
    }
