"""metadata.name of each object of a queue: one place, so specs that refer to each other agree."""

from __future__ import annotations

from infra.settings import QueueSettings


def workload(queue: QueueSettings) -> str:
    """Deployment, HPA, ScaledObject, PDB and ServiceAccount name."""
    return queue.workload_name


def config_map(queue: QueueSettings) -> str:
    """ConfigMap holding the worker config file."""
    return f"{queue.k8s_name}-worker-config"


def secret(queue: QueueSettings) -> str:
    """Secret made from secret stack config."""
    return f"{queue.k8s_name}-worker-secrets"


def metrics_service(queue: QueueSettings) -> str:
    """Service in front of the metrics port (and its ServiceMonitor)."""
    return f"{queue.k8s_name}-worker-metrics"


def dashboard(queue: QueueSettings) -> str:
    """Grafana dashboard ConfigMap."""
    return f"{queue.k8s_name}-worker-dashboard"
