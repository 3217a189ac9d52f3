"""e2e smoke program: a Namespace and a two-replica Deployment (kwok runs the pods)."""

import pulumi
import pulumi_kubernetes as k8s

config = pulumi.Config()
namespace_name = config.require("namespace")
# kwok never pulls images, so any well-formed reference works.
image = config.get("image") or "registry.invalid/twk/pause:3.10"
labels = {"app.kubernetes.io/name": "twk-e2e-web"}

namespace = k8s.core.v1.Namespace("ns", metadata={"name": namespace_name})
deployment = k8s.apps.v1.Deployment(
    "web",
    metadata={"name": "web", "namespace": namespace.metadata.name, "labels": labels},
    spec={
        "replicas": 2,
        "selector": {"match_labels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "web", "image": image}]},
        },
    },
)

pulumi.export("namespace", namespace.metadata.name)
pulumi.export("ready_replicas", deployment.status.ready_replicas)
