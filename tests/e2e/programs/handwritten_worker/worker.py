"""A Temporal worker written by hand with pulumi_kubernetes, not with the kit's program.

The policy gate judges whatever a stack produces. The kit's own config validation refuses one
replica, ``minReplicas: 1`` and a grace period below the drain budget before any resource is
registered, and always adds the preStop hook, so the mandatory policies are exercised here on
objects the kit would never make. Config ``variant`` picks what is wrong:

* ``good``: passes every policy of ``policies/config/production.json``;
* ``one-replica-no-hpa``: ``replicas: 1`` and no HPA;
* ``hpa-min-1``: an HPA with ``minReplicas: 1``;
* ``no-prestop``: the worker container has no preStop hook;
* ``short-grace``: ``terminationGracePeriodSeconds`` 20 < drain budget 30 + 10 s.
"""

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

config = pulumi.Config()
variant = config.require("variant")
namespace_name = config.require("namespace")
queue = "orders"
image = "127.0.0.1:5001/temporal-workers/worker@sha256:" + "ab" * 32
labels: Any = {
    "app.kubernetes.io/name": "temporal-worker",
    "app.kubernetes.io/instance": "handwritten",
    "app.kubernetes.io/component": queue,
    "app.kubernetes.io/part-of": "temporal-workers",
    "app.kubernetes.io/managed-by": "pulumi",
    "temporal.io/task-queue": queue,
}
selector: Any = {"temporal.io/task-queue": queue, "app.kubernetes.io/instance": "handwritten"}

namespace = k8s.core.v1.Namespace("ns", metadata={"name": namespace_name, "labels": labels})
meta: Any = {"namespace": namespace.metadata.name, "labels": labels}


def named(name: str) -> Any:
    """Metadata of one object of the worker."""
    return {**meta, "name": name}


container: dict[str, Any] = {
    "name": "worker",
    "image": image,
    "env": [
        {"name": "TEMPORAL_TASK_QUEUE", "value": queue},
        {"name": "WORKER_APP", "value": "orders_app.queues:orders"},
        {"name": "WORKER_GRACEFUL_SHUTDOWN_SECONDS", "value": "30"},
    ],
    "resources": {"requests": {"cpu": "50m", "memory": "96Mi"}, "limits": {"memory": "256Mi"}},
    "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}},
    "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
    "securityContext": {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    },
}
if variant != "no-prestop":
    container["lifecycle"] = {
        "preStop": {"exec": {"command": ["python", "-m", "workerkit", "drain"]}}
    }

pod_spec: dict[str, Any] = {
    "terminationGracePeriodSeconds": 20 if variant == "short-grace" else 45,
    "topologySpreadConstraints": [
        {
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector},
        }
    ],
    "containers": [container],
}
deployment_spec: Any = {
    "selector": {"matchLabels": selector},
    "template": {"metadata": {"labels": labels}, "spec": pod_spec},
}
if variant == "one-replica-no-hpa":
    deployment_spec["replicas"] = 1

hpa_spec: Any = {
    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "orders-worker"},
    "minReplicas": 1 if variant == "hpa-min-1" else 2,
    "maxReplicas": 4,
    "metrics": [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 70},
            },
        }
    ],
    "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
}
pdb_spec: Any = {"maxUnavailable": 1, "selector": {"matchLabels": selector}}

deployment = k8s.apps.v1.Deployment(
    "orders-worker", metadata=named("orders-worker"), spec=deployment_spec
)
if variant != "one-replica-no-hpa":
    k8s.autoscaling.v2.HorizontalPodAutoscaler(
        "orders-worker",
        metadata=named("orders-worker"),
        spec=hpa_spec,
        opts=pulumi.ResourceOptions(depends_on=[deployment]),
    )
k8s.policy.v1.PodDisruptionBudget("orders-worker", metadata=named("orders-worker"), spec=pdb_spec)

pulumi.export("variant", variant)
