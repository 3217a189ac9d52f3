"""Which workloads are Temporal workers, which containers do the polling, which queues they serve.

A worker is a Deployment or StatefulSet labelled `temporal.io/task-queue` (object or pod template)
or with a container whose env sets `TEMPORAL_TASK_QUEUE` (docs/architecture.md §2). The env value is
the exact queue name; the label may be sanitised for Kubernetes, so it names the queue only when no
container states it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .resources import Resource, api_group, labels_of
from .values import UNKNOWN, as_dict, as_list, get, is_unknown

QUEUE_LABEL = "temporal.io/task-queue"
QUEUE_ENV = "TEMPORAL_TASK_QUEUE"
BUILD_ID_LABEL = "temporal.io/build-id"
BUILD_ID_ENV = "TEMPORAL_WORKER_BUILD_ID"
VERSION_ROLE_ANNOTATION = "temporal-workers.io/version-role"
SUNSET_ROLES = frozenset({"drained", "inactive"})
"""Roles of versions nothing routes to and nothing pinned runs on: they may sit at 0 pollers."""
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet"})


@dataclass(frozen=True)
class Container:
    """A worker container of a pod template (`spec` is the container dict)."""

    name: str
    spec: dict[str, Any]


@dataclass(frozen=True)
class Workload:
    """A worker workload: its resource, pod template, worker containers and task queues.

    `queues` holds the queue names known now; `queue_unknown` is set when a worker container's queue
    cannot be known (an unknown or non-literal env value and no label to fall back on). `certain` is
    False when only an unknown label could make it a worker: stack rules then count it as a possible
    poller of any queue, resource rules leave it alone.
    """

    resource: Resource
    pod_labels: Any
    pod_spec: Any  # dict, or UNKNOWN while the pod template is unknown
    containers: tuple[Container, ...]
    containers_unknown: bool
    queues: tuple[str, ...]
    queue_unknown: bool
    certain: bool = True
    version: Any = None  # build id (str), None when unversioned, UNKNOWN while unknown

    @property
    def version_role(self) -> str | None:
        """The role the stack declares for this version (annotation), if any."""
        role = get(self.resource.props, "metadata", "annotations", VERSION_ROLE_ANNOTATION)
        return role if isinstance(role, str) and not is_unknown(role) else None

    @property
    def kind(self) -> str:
        """`Deployment` or `StatefulSet`."""
        return self.resource.kind

    @property
    def display(self) -> str:
        """`Deployment billing-worker (queue "billing")`: how messages name the workload."""
        if not self.queues:
            return self.resource.display
        queues = ", ".join(f'"{queue}"' for queue in self.queues)
        noun = "queue" if len(self.queues) == 1 else "queues"
        return f"{self.resource.display} ({noun} {queues})"

    @property
    def replicas(self) -> Any:
        """`spec.replicas` as int (absent means 1); UNKNOWN while unknown; None if malformed."""
        value = get(self.resource.props, "spec", "replicas")
        if value is None:
            return 1
        if is_unknown(value):
            return UNKNOWN
        return _count(value)


def _count(value: Any) -> int | None:
    """A non-negative integral number (the engine sends `2.0`) as int, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if float(value).is_integer() and value >= 0 else None


def container_name(spec: dict[str, Any], index: int) -> str:
    """The container's name, or `#<index>` while it is not known."""
    name = spec.get("name")
    return name if isinstance(name, str) and not is_unknown(name) else f"#{index}"


def is_workload_type(resource: Resource) -> bool:
    """True for apps Deployments and StatefulSets (any API version, any way they were created)."""
    return api_group(resource.api_version) == "apps" and resource.kind in WORKLOAD_KINDS


def _env_entry(container: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The env entry named `name` of a container (the last one wins, as in Kubernetes)."""
    found = None
    for entry in as_list(container.get("env")):
        if isinstance(entry, dict) and entry.get("name") == name:
            found = entry
    return found


def env_literal(container: dict[str, Any], name: str) -> Any:
    """The literal value of env `name`: str, UNKNOWN (unknown or from valueFrom), None if absent."""
    entry = _env_entry(container, name)
    if entry is None:
        return None
    value = entry.get("value")
    if isinstance(value, str):
        return UNKNOWN if is_unknown(value) else value
    if is_unknown(value) or entry.get("valueFrom") is not None:
        return UNKNOWN
    return ""  # declared without a value: Kubernetes sets it to the empty string


def _queue_label(props: dict[str, Any], template: Any) -> Any:
    """The queue label of the pod template, else of the object; UNKNOWN when it may be unknown."""
    unknown = False
    for labels in (labels_of(template), labels_of(props)):
        value = UNKNOWN if is_unknown(labels) else labels.get(QUEUE_LABEL)
        if isinstance(value, str) and not is_unknown(value):
            return value
        unknown = unknown or (value is not None)
    return UNKNOWN if unknown else None


def _pick_default(containers: list[Container], template: Any) -> tuple[Container, ...]:
    """The container `kubectl` would pick: the default-container annotation, else the first."""
    wanted = get(template, "metadata", "annotations", DEFAULT_CONTAINER_ANNOTATION)
    for container in containers:
        if container.name == wanted:
            return (container,)
    return tuple(containers[:1])


def worker_workload(resource: Resource) -> Workload | None:
    """The worker view of a Deployment/StatefulSet, or None when it is not a Temporal worker."""
    if not is_workload_type(resource):
        return None
    props = resource.props
    template = get(props, "spec", "template")
    pod_spec = get(template, "spec")
    raw_containers = get(pod_spec, "containers")
    containers_unknown = is_unknown(raw_containers) or any(
        is_unknown(c) for c in as_list(raw_containers)
    )
    containers = [
        Container(name=container_name(c, i), spec=c)
        for i, c in enumerate(as_list(raw_containers))
        if isinstance(c, dict)
    ]
    label = _queue_label(props, template)
    with_env = [c for c in containers if _env_entry(c.spec, QUEUE_ENV) is not None]
    if label is None and not with_env:
        return None
    workers = tuple(with_env) if with_env else _pick_default(containers, template)
    queues: list[str] = []
    queue_unknown = False
    for container in with_env:
        value = env_literal(container.spec, QUEUE_ENV)
        if isinstance(value, str) and value:
            queues.append(value)
        elif isinstance(label, str) and label:
            queues.append(label)
        else:
            queue_unknown = True
    if not with_env:
        if isinstance(label, str) and label:
            queues.append(label)
        else:
            queue_unknown = True
    pod_labels = labels_of(template)
    certain = bool(with_env) or isinstance(label, str)
    version: Any = None
    for container in workers:
        value = env_literal(container.spec, BUILD_ID_ENV)
        if value is not None:
            version = value
    if version is None:
        version = UNKNOWN if is_unknown(pod_labels) else pod_labels.get(BUILD_ID_LABEL)
    if is_unknown(version):
        version = UNKNOWN
    elif not isinstance(version, str) or not version:
        version = None
    return Workload(
        resource=resource,
        pod_labels=pod_labels,
        pod_spec=UNKNOWN if is_unknown(pod_spec) else as_dict(pod_spec),
        containers=workers,
        containers_unknown=containers_unknown or is_unknown(template) or is_unknown(pod_spec),
        queues=tuple(dict.fromkeys(queues)),
        queue_unknown=queue_unknown or not certain,
        certain=certain,
        version=version,
    )
