"""Pulumi program entry point: stack config -> components -> stack outputs. Nothing else."""

from __future__ import annotations

import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import pulumi  # noqa: E402

from infra.components.cluster import kubernetes_provider, stack_namespace  # noqa: E402
from infra.components.queue_workers import QueueWorkers  # noqa: E402
from infra.components.worker_image import WorkerImage, resolve_build_id  # noqa: E402
from infra.stack_config import stack_settings_or_exit  # noqa: E402
from infra.versions.program import versioned_queues_or_exit  # noqa: E402

settings = stack_settings_or_exit()
target_build = resolve_build_id(settings.image, PROJECT_ROOT)
versioned = versioned_queues_or_exit(settings, target_build, PROJECT_ROOT)

provider = kubernetes_provider(settings.kubernetes, PROJECT_ROOT)
k8s_opts = pulumi.ResourceOptions(provider=provider) if provider else pulumi.ResourceOptions()
image = WorkerImage("worker-image", settings.image, PROJECT_ROOT)
namespace = stack_namespace(settings, k8s_opts)
build_id = target_build if settings.versioning.enabled else None
workers = {
    queue.task_queue: QueueWorkers(
        settings,
        queue,
        image.ref,
        build_id,
        namespace,
        opts=pulumi.ResourceOptions(providers=[provider] if provider else None),
        builds=versioned[queue.task_queue].with_target_image(image.ref) if versioned else None,
        rollout=versioned[queue.task_queue].rollout if versioned else None,
        project_root=str(PROJECT_ROOT),
    )
    for queue in settings.queues
}

pulumi.export("namespace", settings.namespace.name)
pulumi.export("image", {"ref": image.ref, "digest": image.digest, "buildId": image.build_id})
pulumi.export(
    "queues",
    {
        name: {
            "workload": worker.workload,
            "namespace": worker.namespace,
            "imageDigest": image.digest,
        }
        for name, worker in workers.items()
    },
)
