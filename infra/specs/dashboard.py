"""A Grafana dashboard per queue, as a ConfigMap in the Grafana sidecar discovery convention.

Charts what the Temporal worker guide asks to watch: schedule-to-start latency, task slots
available, sticky cache size, request failures and latency, and CPU and memory of the queue's pods.
Metric names match the Temporal SDK runtime's Prometheus exporter with or without unit suffixes.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi

from infra.contract import WORKER_CONTAINER
from infra.names import queue_labels
from infra.settings import QueueSettings, StackSettings
from infra.specs import K8sObject, metadata, names


def _selector(settings: StackSettings, queue: QueueSettings) -> str:
    return f'namespace="{settings.namespace.name}", service="{names.metrics_service(queue)}"'


def dashboard_queries(settings: StackSettings, queue: QueueSettings) -> dict[str, list[str]]:
    """Panel title -> PromQL expressions (one dashboard per queue)."""
    sel = _selector(settings, queue)
    pods = (
        f'namespace="{settings.namespace.name}", pod=~"{names.workload(queue)}-.*", '
        f'container="{WORKER_CONTAINER}"'
    )

    def p95(metric: str, by: str = "le") -> str:
        return (
            f"histogram_quantile(0.95, sum by ({by}) "
            f'(rate({{__name__=~"{metric}(_seconds)?_bucket", {sel}}}[5m])))'
        )

    return {
        "Workflow task schedule-to-start latency (p95)": [
            p95("temporal_workflow_task_schedule_to_start_latency")
        ],
        "Activity schedule-to-start latency (p95)": [
            p95("temporal_activity_schedule_to_start_latency")
        ],
        "Task slots available": [
            f"sum by (worker_type) (temporal_worker_task_slots_available{{{sel}}})"
        ],
        "Sticky cache size": [f"sum by (pod) (temporal_sticky_cache_size{{{sel}}})"],
        "Request failures per second": [
            "sum by (operation) (rate("
            f'{{__name__=~"temporal_(long_)?request_failure(_total)?", {sel}}}[5m]))'
        ],
        "Request latency (p95)": [
            p95("temporal_request_latency", "le, operation"),
            p95("temporal_long_request_latency", "le, operation"),
        ],
        "CPU per pod (cores)": [
            f"sum by (pod) (rate(container_cpu_usage_seconds_total{{{pods}}}[5m]))"
        ],
        "Memory per pod (working set)": [
            f"sum by (pod) (container_memory_working_set_bytes{{{pods}}})"
        ],
    }


def dashboard_json(settings: StackSettings, queue: QueueSettings) -> dict[str, Any]:
    """The Grafana dashboard model."""
    panels = []
    for index, (title, exprs) in enumerate(dashboard_queries(settings, queue).items()):
        panels.append(
            {
                "id": index + 1,
                "type": "timeseries",
                "title": title,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "gridPos": {"h": 8, "w": 12, "x": (index % 2) * 12, "y": (index // 2) * 8},
                "targets": [
                    {"refId": chr(ord("A") + i), "expr": expr} for i, expr in enumerate(exprs)
                ],
            }
        )
    return {
        "uid": f"tw-{settings.stack}-{queue.k8s_name}"[:40],
        "title": f"Temporal workers / {settings.stack} / {queue.task_queue}",
        "tags": ["temporal", "workers", settings.stack],
        "timezone": "utc",
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data"}
            ]
        },
        "panels": panels,
    }


def dashboard_object(
    settings: StackSettings, queue: QueueSettings, namespace: pulumi.Input[str]
) -> K8sObject:
    """ConfigMap labelled for the Grafana dashboard sidecar (`grafana_dashboard: "1"`)."""
    labels = {**queue_labels(settings.stack, queue.task_queue), queue.dashboard.label: "1"}
    annotations = {"grafana_folder": queue.dashboard.folder} if queue.dashboard.folder else None
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(names.dashboard(queue), namespace, labels, annotations),
        "data": {
            f"{names.dashboard(queue)}.json": json.dumps(
                dashboard_json(settings, queue), indent=1, sort_keys=True
            )
        },
    }
