"""All objects of one queue, in dependency order (what `QueueWorkers` registers)."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from infra.settings import QueueSettings, StackSettings
from infra.specs import K8sObject
from infra.specs.autoscaling import hpa_object, scaled_object
from infra.specs.dashboard import dashboard_object
from infra.specs.deployment import deployment_object
from infra.specs.metrics import metrics_service_object, service_monitor_object
from infra.specs.pdb import pdb_object
from infra.specs.secret import secret_object
from infra.specs.service_account import service_account_object
from infra.specs.worker_config import config_map_object


def queue_objects(
    settings: StackSettings,
    queue: QueueSettings,
    namespace: pulumi.Input[str],
    image: pulumi.Input[str],
    build_id: pulumi.Input[str] | None,
    secret_values: Mapping[str, pulumi.Input[str]],
) -> list[K8sObject]:
    """ServiceAccount, ConfigMap, Secret (when secret config exists), Deployment, autoscaler,
    PDB, metrics Service, and the optional ServiceMonitor and dashboard."""
    objects = [
        service_account_object(settings, queue, namespace),
        config_map_object(settings, queue, namespace),
    ]
    if secret_values:
        objects.append(secret_object(settings, queue, namespace, secret_values))
    objects.append(deployment_object(settings, queue, namespace, image, build_id))
    if queue.autoscaling.mode == "hpa":
        objects.append(hpa_object(settings, queue, namespace))
    elif queue.autoscaling.mode == "keda":
        objects.append(scaled_object(settings, queue, namespace, build_id))
    objects.append(pdb_object(settings, queue, namespace))
    objects.append(metrics_service_object(settings, queue, namespace))
    if queue.service_monitor.enabled:
        objects.append(service_monitor_object(settings, queue, namespace))
    if queue.dashboard.enabled:
        objects.append(dashboard_object(settings, queue, namespace))
    return objects
