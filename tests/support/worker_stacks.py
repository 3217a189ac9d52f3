"""Hand-written stacks of Temporal workers, as the engine would describe them to a policy pack.

`queue_resources("billing")` is the seven objects a well-run queue needs (ServiceAccount, ConfigMap,
Secret, Deployment, HPA, PDB, Service), following docs/architecture.md: labels,
TEMPORAL_TASK_QUEUE env, preStop drain, a grace period covering the drain. `good_stack(n)` is n
such queues. Tests mutate copies of these to build bad stacks.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from tests.support.analyzer_client import StackResource, secret, urn_for

NAMESPACE = "temporal-workers"
STACK = "dev"
IMAGE = (
    "registry.example.com/temporal-workers/worker"
    "@sha256:4b1f6a1c0e5b3e8d9f2a7c6b5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e"
)
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
SERVICE = "kubernetes:core/v1:Service"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SECRET = "kubernetes:core/v1:Secret"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"


def labels(queue: str) -> dict[str, str]:
    """The labels every object of a queue carries (docs/architecture.md §2)."""
    return {
        "app.kubernetes.io/name": "temporal-worker",
        "app.kubernetes.io/instance": STACK,
        "app.kubernetes.io/component": queue,
        "app.kubernetes.io/part-of": "temporal-workers",
        "app.kubernetes.io/managed-by": "pulumi",
        "temporal.io/task-queue": queue,
    }


def selector(queue: str) -> dict[str, Any]:
    """The selector of a queue's pods."""
    return {
        "matchLabels": {
            "app.kubernetes.io/name": "temporal-worker",
            "app.kubernetes.io/instance": STACK,
            "app.kubernetes.io/component": queue,
        }
    }


def metadata(name: str, queue: str) -> dict[str, Any]:
    """Object metadata in the workers' namespace."""
    return {"name": name, "namespace": NAMESPACE, "labels": labels(queue)}


def worker_container(queue: str) -> dict[str, Any]:
    """The worker container: env contract, preStop drain, probes, resources, hardening."""
    return {
        "name": "worker",
        "image": IMAGE,
        "args": [],
        "env": [
            {"name": "TEMPORAL_TASK_QUEUE", "value": queue},
            {"name": "WORKER_APP", "value": f"orders_app.app:{queue}"},
            {"name": "TEMPORAL_ADDRESS", "value": "temporal-frontend.temporal:7233"},
            {"name": "TEMPORAL_NAMESPACE", "value": "default"},
            {
                "name": "TEMPORAL_API_KEY",
                "valueFrom": {"secretKeyRef": {"name": f"{queue}-temporal", "key": "apiKey"}},
            },
            {"name": "WORKER_GRACEFUL_SHUTDOWN_SECONDS", "value": "30"},
            {"name": "WORKER_HEALTH_PORT", "value": "8080"},
            {"name": "WORKER_METRICS_PORT", "value": "9090"},
        ],
        "ports": [
            {"name": "health", "containerPort": 8080},
            {"name": "metrics", "containerPort": 9090},
        ],
        "lifecycle": {"preStop": {"exec": {"command": ["python", "-m", "workerkit", "drain"]}}},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "health"}, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "health"}, "periodSeconds": 10},
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"memory": "512Mi"},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/workerkit", "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }


def deployment_props(queue: str) -> dict[str, Any]:
    """A worker Deployment (replicas left to the HPA)."""
    name = f"{queue}-worker"
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(name, queue),
        "spec": {
            "selector": selector(queue),
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0.0}},
            "template": {
                "metadata": {"labels": labels(queue)},
                "spec": {
                    "serviceAccountName": name,
                    "terminationGracePeriodSeconds": 45.0,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001.0},
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1.0,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": selector(queue),
                        }
                    ],
                    "containers": [worker_container(queue)],
                    "volumes": [
                        {"name": "config", "configMap": {"name": f"{queue}-worker-config"}},
                        {"name": "tmp", "emptyDir": {}},
                    ],
                },
            },
        },
    }


def hpa_props(queue: str, min_replicas: float = 2.0) -> dict[str, Any]:
    """An HPA on CPU with a calm scale-down."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(f"{queue}-worker", queue),
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": f"{queue}-worker",
            },
            "minReplicas": min_replicas,
            "maxReplicas": 10.0,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70.0},
                    },
                }
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300.0}},
        },
    }


def pdb_props(queue: str) -> dict[str, Any]:
    """A PDB letting one worker pod go at a time."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(f"{queue}-worker", queue),
        "spec": {"maxUnavailable": 1.0, "selector": selector(queue)},
    }


def queue_resources(queue: str) -> list[StackResource]:
    """The seven resources of one well-run queue."""
    name = f"{queue}-worker"
    objects: list[tuple[str, str, dict[str, Any]]] = [
        (
            SERVICE_ACCOUNT,
            name,
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(name, queue)},
        ),
        (
            CONFIG_MAP,
            f"{name}-config",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": metadata(f"{name}-config", queue),
                "data": {"worker.json": '{"WORKER_MAX_CONCURRENT_ACTIVITIES": "50"}\n'},
            },
        ),
        (
            SECRET,
            f"{queue}-temporal",
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": metadata(f"{queue}-temporal", queue),
                "type": "Opaque",
                "stringData": secret({"apiKey": "not-a-real-key"}),
            },
        ),
        (DEPLOYMENT, name, deployment_props(queue)),
        (HPA, name, hpa_props(queue)),
        (PDB, name, pdb_props(queue)),
        (
            SERVICE,
            f"{name}-metrics",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": metadata(f"{name}-metrics", queue),
                "spec": {
                    "selector": selector(queue)["matchLabels"],
                    "ports": [{"name": "metrics", "port": 9090.0, "targetPort": "metrics"}],
                },
            },
        ),
    ]
    return [
        StackResource(type=t, name=n, props=p, urn=urn_for(t, n, stack=STACK))
        for t, n, p in objects
    ]


def good_stack(queues: int = 3) -> list[StackResource]:
    """`queues` well-run queues (named q000, q001, ... beyond the three sample queues)."""
    names = ["orders", "billing", "shipments"]
    names += [f"q{i:03d}" for i in range(len(names), queues)]
    return [r for queue in names[:queues] for r in queue_resources(queue)]


def find(stack: list[StackResource], resource_type: str, name: str) -> StackResource:
    """The resource of a type and Pulumi name."""
    for resource in stack:
        if resource.type == resource_type and resource.name == name:
            return resource
    raise KeyError(f"{resource_type} {name}")


def mutate(
    stack: list[StackResource],
    resource_type: str,
    name: str,
    change: Callable[[dict[str, Any]], None],
) -> list[StackResource]:
    """A copy of `stack` where `change` edited a deep copy of one resource's props."""
    out = []
    for resource in stack:
        if resource.type == resource_type and resource.name == name:
            props = copy.deepcopy(dict(resource.props))
            change(props)
            resource = StackResource(
                type=resource.type,
                name=resource.name,
                props=props,
                urn=resource.urn,
                parent=resource.parent,
                provider=resource.provider,
                dependencies=resource.dependencies,
            )
        out.append(resource)
    return out


def without(stack: list[StackResource], resource_type: str, name: str) -> list[StackResource]:
    """A copy of `stack` without one resource."""
    return [r for r in stack if not (r.type == resource_type and r.name == name)]
