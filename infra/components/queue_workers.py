"""QueueWorkers: every Kubernetes object of one task queue, from the pure specs."""

from __future__ import annotations

import pulumi

from infra.components.k8s_object import register
from infra.settings import QueueSettings, StackSettings
from infra.specs.queue import queue_objects
from infra.specs.secret import secret_entries


class QueueWorkers(pulumi.ComponentResource):
    """One queue's workload: Deployment, autoscaler, PDB, config, secrets, metrics, dashboard."""

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
    ) -> None:
        """Register the queue's objects in `settings.namespace.name`, after `namespace` if given."""
        super().__init__("temporal-workers:index:QueueWorkers", queue.workload_name, None, opts)
        secret_values = {
            key: pulumi.Output.secret(entry.value)
            for key, entry in secret_entries(settings, queue).items()
        }
        name = settings.namespace.name
        objects = queue_objects(settings, queue, name, image, build_id, secret_values)
        first: list[pulumi.Resource] = [namespace] if namespace is not None else []
        before_workload = list(first)
        for obj in objects:
            depends = before_workload if obj["kind"] == "Deployment" else first
            resource = register(obj, pulumi.ResourceOptions(parent=self, depends_on=depends))
            if obj["kind"] in ("ServiceAccount", "ConfigMap", "Secret"):
                before_workload.append(resource)
        self.workload = pulumi.Output.from_input(queue.workload_name)
        self.namespace = pulumi.Output.from_input(name)
        self.register_outputs({"workload": self.workload, "namespace": self.namespace})
