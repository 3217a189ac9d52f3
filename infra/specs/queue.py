"""All objects of one queue, in dependency order (what `QueueWorkers` registers)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

from infra.settings import QueueSettings, StackSettings
from infra.specs import K8sObject
from infra.specs.autoscaling import hpa_object, scaled_object
from infra.specs.dashboard import dashboard_object
from infra.specs.deployment import deployment_object
from infra.specs.metrics import metrics_service_object, service_monitor_object
from infra.specs.pdb import pdb_object
from infra.specs.release import Release
from infra.specs.secret import secret_object
from infra.specs.service_account import service_account_object
from infra.specs.worker_config import config_map_object


@dataclass(frozen=True)
class BuildWorkers:
    """The workers of one build: the image they run and, when versioned, the build's release."""

    image: pulumi.Input[str]
    release: Release | None


def queue_objects(
    settings: StackSettings,
    queue: QueueSettings,
    namespace: pulumi.Input[str],
    image: pulumi.Input[str],
    build_id: pulumi.Input[str] | None,
    secret_values: Mapping[str, pulumi.Input[str]],
    builds: Sequence[BuildWorkers] | None = None,
) -> list[K8sObject]:
    """ServiceAccount, ConfigMap, Secret (when secret config exists), then per build a Deployment,
    its autoscaler (while it serves) and PDB, then the metrics Service and the optional
    ServiceMonitor and dashboard.

    `builds` defaults to one build: `image`, versioned as `build_id` when versioning is enabled.
    """
    if builds is None:
        versioned = settings.versioning.enabled and isinstance(build_id, str)
        release = Release(str(build_id), "target") if versioned else None
        builds = [BuildWorkers(image, release)]
    objects = [
        service_account_object(settings, queue, namespace),
        config_map_object(settings, queue, namespace),
    ]
    if secret_values:
        objects.append(secret_object(settings, queue, namespace, secret_values))
    for build in builds:
        release = build.release
        build_ref = release.build_id if release is not None else None
        objects.append(
            deployment_object(settings, queue, namespace, build.image, build_ref, release)
        )
        serving = release is None or release.serving
        if serving and queue.autoscaling.mode == "hpa":
            objects.append(hpa_object(settings, queue, namespace, release))
        elif serving and queue.autoscaling.mode == "keda":
            objects.append(scaled_object(settings, queue, namespace, build_ref, release))
        objects.append(pdb_object(settings, queue, namespace, release))
    objects.append(metrics_service_object(settings, queue, namespace))
    if queue.service_monitor.enabled:
        objects.append(service_monitor_object(settings, queue, namespace))
    if queue.dashboard.enabled:
        objects.append(dashboard_object(settings, queue, namespace))
    return objects
