"""Metrics exposure of a queue: a Service on the metrics port, and an optional ServiceMonitor."""

from __future__ import annotations

import pulumi

from infra.contract import METRICS_PATH, METRICS_PORT
from infra.names import SKIP_AWAIT_ANNOTATION, queue_labels, selector_labels
from infra.settings import QueueSettings, StackSettings
from infra.specs import K8sObject, metadata, names, queue_metadata


def metrics_service_object(
    settings: StackSettings, queue: QueueSettings, namespace: pulumi.Input[str]
) -> K8sObject:
    """ClusterIP Service selecting the queue's pods, port `metrics`.

    Created without pulumi-kubernetes' await: nothing in the stack needs its endpoints, and the
    await polls for them in 10 s steps (it was most of a 1-queue `pulumi up`; bench/bench_up.py).
    """
    meta = queue_metadata(settings, queue, names.metrics_service(queue), namespace)
    meta["annotations"] = {**meta.get("annotations", {}), SKIP_AWAIT_ANNOTATION: "true"}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(settings.stack, queue.task_queue),
            "ports": [
                {
                    "name": "metrics",
                    "port": METRICS_PORT,
                    "targetPort": "metrics",
                    "protocol": "TCP",
                }
            ],
        },
    }


def service_monitor_object(
    settings: StackSettings, queue: QueueSettings, namespace: pulumi.Input[str]
) -> K8sObject:
    """Prometheus Operator ServiceMonitor scraping the metrics Service."""
    labels = {**queue_labels(settings.stack, queue.task_queue), **queue.service_monitor.labels}
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": metadata(names.metrics_service(queue), namespace, labels),
        "spec": {
            "selector": {"matchLabels": queue_labels(settings.stack, queue.task_queue)},
            "namespaceSelector": {"matchNames": [settings.namespace.name]},
            "endpoints": [
                {
                    "port": "metrics",
                    "path": METRICS_PATH,
                    "interval": queue.service_monitor.interval,
                }
            ],
        },
    }
