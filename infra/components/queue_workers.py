"""QueueWorkers: every Kubernetes object of one task queue, from the pure specs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

from infra.components.k8s_object import register
from infra.components.worker_rollout import WorkerRollout
from infra.settings import QueueSettings, StackSettings
from infra.specs.queue import BuildWorkers, queue_objects
from infra.specs.secret import secret_entries

_DEPLOYMENT_INPUTS = ("ServiceAccount", "ConfigMap", "Secret")
_PER_DEPLOYMENT = ("HorizontalPodAutoscaler", "ScaledObject", "PodDisruptionBudget")


class QueueWorkers(pulumi.ComponentResource):
    """One queue's objects: config, secrets, per build a Deployment with autoscaler and PDB,
    metrics, dashboard; when versioned, the WorkerRollout that routes to the target build."""

    workload: pulumi.Output[str]
    namespace: pulumi.Output[str]

    def __init__(
        self,
        settings: StackSettings,
        queue: QueueSettings,
        image: pulumi.Input[str],
        build_id: pulumi.Input[str] | None,
        namespace: pulumi.Resource | None = None,
        opts: pulumi.ResourceOptions | None = None,
        builds: Sequence[BuildWorkers] | None = None,
        rollout: dict[str, Any] | None = None,
        project_root: str = "",
    ) -> None:
        """Register the queue's objects in `settings.namespace.name`, after `namespace` if given.

        `builds` (versioned queues): the Deployments to declare, the target first; `rollout`: the
        inputs of the queue's WorkerRollout, registered after the target's Deployment.
        """
        super().__init__("temporal-workers:index:QueueWorkers", queue.workload_name, None, opts)
        secret_values = {
            key: pulumi.Output.secret(entry.value)
            for key, entry in secret_entries(settings, queue).items()
        }
        name = settings.namespace.name
        objects = queue_objects(settings, queue, name, image, build_id, secret_values, builds)
        first: list[pulumi.Resource] = [namespace] if namespace is not None else []
        before_workload = list(first)
        deployments: list[pulumi.Resource] = []
        for obj in objects:
            kind = obj["kind"]
            if kind == "Deployment":
                depends = before_workload
            elif kind in _PER_DEPLOYMENT and deployments:
                depends = [*first, deployments[-1]]  # an autoscaler or PDB after its target
            else:
                depends = first
            resource = register(obj, pulumi.ResourceOptions(parent=self, depends_on=depends))
            if kind in _DEPLOYMENT_INPUTS:
                before_workload.append(resource)
            if kind == "Deployment":
                deployments.append(resource)
        if rollout is not None and deployments:
            WorkerRollout(
                f"{queue.workload_name}-rollout",
                rollout,
                project_root,
                pulumi.ResourceOptions(parent=self, depends_on=[deployments[0]]),
            )
        names = [str(o["metadata"]["name"]) for o in objects if o["kind"] == "Deployment"]
        self.workload = pulumi.Output.from_input(names[0])  # the target build's when versioned
        self.namespace = pulumi.Output.from_input(name)
        self.register_outputs({"workload": self.workload, "namespace": self.namespace})
