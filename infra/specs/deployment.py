"""The queue's worker Deployment: probes, drain on stop, restricted security, spread, resources."""

from __future__ import annotations

from typing import Any

import pulumi

from infra.contract import (
    CONFIG_DIR,
    CONFIG_VOLUME,
    DRAIN_COMMAND,
    HEALTH_PORT,
    LIVENESS_PATH,
    METRICS_PORT,
    READINESS_PATH,
    TLS_CA_FILE,
    TLS_CERT_FILE,
    TLS_DIR,
    TLS_KEY_FILE,
    TLS_VOLUME,
    TMP_DIR,
    TMP_VOLUME,
    WORKER_CONTAINER,
)
from infra.settings import QueueSettings, StackSettings
from infra.specs import K8sObject, metadata, names
from infra.specs.env import container_env
from infra.specs.release import (
    Release,
    release_annotations,
    workload_labels,
    workload_name,
    workload_selector,
)
from infra.specs.secret import secret_entries
from infra.specs.worker_config import config_checksum

CHECKSUM_ANNOTATION = "checksum/worker-config"


def termination_grace_seconds(queue: QueueSettings) -> int:
    """Grace period = drain budget + buffer (covers the preStop drain and process exit)."""
    return queue.graceful_shutdown_seconds + queue.termination_buffer_seconds


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "health"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def _resources(queue: QueueSettings) -> dict[str, Any]:
    res = queue.resources
    limits = {"memory": res.limits_memory}
    if res.limits_cpu is not None:
        limits["cpu"] = res.limits_cpu
    return {"requests": {"cpu": res.requests_cpu, "memory": res.requests_memory}, "limits": limits}


def _tls_volume(settings: StackSettings, queue: QueueSettings) -> dict[str, Any] | None:
    tls = settings.temporal.tls
    if tls.existing_secret is not None:
        ref = tls.existing_secret
        items = [
            {"key": ref.cert_key, "path": TLS_CERT_FILE},
            {"key": ref.key_key, "path": TLS_KEY_FILE},
        ]
        if ref.ca_key is not None:
            items.append({"key": ref.ca_key, "path": TLS_CA_FILE})
        secret_name = ref.name
    else:
        own = secret_entries(settings, queue)
        items = [
            {"key": k, "path": k} for k in (TLS_CERT_FILE, TLS_KEY_FILE, TLS_CA_FILE) if k in own
        ]
        secret_name = names.secret(queue)
    if not items:
        return None
    return {
        "name": TLS_VOLUME,
        "secret": {"secretName": secret_name, "items": items, "defaultMode": 0o444},
    }


def _tolerations(queue: QueueSettings) -> list[dict[str, str]]:
    result = []
    for t in queue.tolerations:
        entry = {"key": t.key, "operator": t.operator}
        if t.value is not None:
            entry["value"] = t.value
        if t.effect is not None:
            entry["effect"] = t.effect
        result.append(entry)
    return result


def _spread(queue: QueueSettings, selector: dict[str, str]) -> list[dict[str, Any]]:
    # Nodes the pods may not use (a nodeSelector, a taint they do not tolerate) are no domain:
    # an empty domain there would cap every other node under DoNotSchedule.
    return [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "nodeAffinityPolicy": "Honor",
            "nodeTaintsPolicy": "Honor",
            "whenUnsatisfiable": policy,
            "labelSelector": {"matchLabels": dict(selector)},
            "matchLabelKeys": ["pod-template-hash"],
        }
        for key, policy in (
            ("kubernetes.io/hostname", queue.topology.nodes),
            ("topology.kubernetes.io/zone", queue.topology.zones),
        )
    ]


def _container(
    settings: StackSettings,
    queue: QueueSettings,
    image: pulumi.Input[str],
    build_id: pulumi.Input[str] | None,
    tls_volume: dict[str, Any] | None,
) -> dict[str, Any]:
    mounts: list[dict[str, Any]] = [
        {"name": TMP_VOLUME, "mountPath": TMP_DIR},
        {"name": CONFIG_VOLUME, "mountPath": CONFIG_DIR, "readOnly": True},
    ]
    if tls_volume is not None:
        mounts.append({"name": TLS_VOLUME, "mountPath": TLS_DIR, "readOnly": True})
    mounts += [
        {"name": v.name, "mountPath": v.mount_path, "readOnly": v.read_only} for v in queue.volumes
    ]
    return {
        "name": WORKER_CONTAINER,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [
            {"name": "health", "containerPort": HEALTH_PORT, "protocol": "TCP"},
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
        ],
        "env": container_env(settings, queue, build_id),
        "resources": _resources(queue),
        "startupProbe": _probe(LIVENESS_PATH, period=2, failures=60),
        "livenessProbe": _probe(LIVENESS_PATH, period=10, failures=3),
        "readinessProbe": _probe(READINESS_PATH, period=5, failures=2),
        "lifecycle": {"preStop": {"exec": {"command": list(DRAIN_COMMAND)}}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": mounts,
    }


def deployment_object(
    settings: StackSettings,
    queue: QueueSettings,
    namespace: pulumi.Input[str],
    image: pulumi.Input[str],
    build_id: pulumi.Input[str] | None,
    release: Release | None = None,
) -> K8sObject:
    """Deployment of one queue's workers (of one build when versioned).

    No `replicas` when an autoscaler owns the count; 0 for a version past its scale-down delay.
    """
    labels = workload_labels(settings, queue, release)
    selector = workload_selector(settings, queue, release)
    tls_volume = _tls_volume(settings, queue)
    volumes: list[dict[str, Any]] = [
        {"name": TMP_VOLUME, "emptyDir": {"sizeLimit": "64Mi"}},
        {"name": CONFIG_VOLUME, "configMap": {"name": names.config_map(queue)}},
    ]
    if tls_volume is not None:
        volumes.append(tls_volume)
    volumes += [
        {
            "name": v.name,
            "persistentVolumeClaim": {"claimName": v.claim_name, "readOnly": v.read_only},
        }
        for v in queue.volumes
    ]
    spec: dict[str, Any] = {
        "revisionHistoryLimit": 5,
        "selector": {"matchLabels": selector},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
        },
        "template": {
            "metadata": {
                "labels": dict(labels),
                "annotations": {CHECKSUM_ANNOTATION: config_checksum(queue)},
            },
            "spec": {
                "serviceAccountName": names.workload(queue),
                "automountServiceAccountToken": False,
                "enableServiceLinks": False,
                "terminationGracePeriodSeconds": termination_grace_seconds(queue),
                "securityContext": {
                    "runAsNonRoot": True,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                **({"nodeSelector": dict(queue.node_selector)} if queue.node_selector else {}),
                **({"tolerations": _tolerations(queue)} if queue.tolerations else {}),
                "topologySpreadConstraints": _spread(queue, selector),
                "containers": [_container(settings, queue, image, build_id, tls_volume)],
                "volumes": volumes,
            },
        },
    }
    if release is not None and not release.serving:
        spec = {"replicas": 0, **spec}
    elif queue.autoscaling.mode == "fixed":
        spec = {"replicas": queue.replicas, **spec}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(
            workload_name(queue, release), namespace, labels, release_annotations(release)
        ),
        "spec": spec,
    }
