"""The cluster side of a stack: the Kubernetes provider (only when configured) and the namespace."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from infra.components.k8s_object import register
from infra.settings import KubernetesSettings, StackSettings
from infra.specs.namespace import namespace_object


def kubeconfig_value(kubeconfig: str, project_root: Path) -> str:
    """Kubeconfig contents as given; a relative path is taken from the project root."""
    if "\n" in kubeconfig or Path(kubeconfig).is_absolute():
        return kubeconfig
    return str(project_root / kubeconfig)


def kubernetes_provider(kubernetes: KubernetesSettings, project_root: Path) -> k8s.Provider | None:
    """An explicit provider when `kubernetes.kubeconfig`/`context` is set; else the default one."""
    if not kubernetes.explicit:
        return None
    kubeconfig = kubernetes.kubeconfig
    return k8s.Provider(
        "kubernetes",
        kubeconfig=kubeconfig_value(kubeconfig, project_root) if kubeconfig else None,
        context=kubernetes.context,
    )


def stack_namespace(
    settings: StackSettings, opts: pulumi.ResourceOptions
) -> pulumi.Resource | None:
    """The created Namespace (objects of the stack depend on it), or None for an existing one."""
    if not settings.namespace.create:
        return None
    return register(namespace_object(settings), opts)
