"""Plain-data builders for rule tests: resources as the rules see them after `materialize`."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from policies.temporal_policies.resources import Resource
from policies.temporal_policies.stack import Stack
from policies.temporal_policies.workloads import Workload, worker_workload
from tests.support import worker_stacks as ws

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

Edit = Callable[[dict[str, Any]], None]


def resource(
    resource_type: str, name: str, props: dict[str, Any], namespace: str = "default"
) -> Resource:
    """A `Resource` with a top-level URN."""
    return Resource(
        type=resource_type,
        urn=f"urn:pulumi:dev::temporal-workers::{resource_type}::{name}",
        name=name,
        props=props,
        default_namespace=namespace,
    )


def edited(props: dict[str, Any], *edits: Edit) -> dict[str, Any]:
    """A deep copy of `props` with `edits` applied in order."""
    out = copy.deepcopy(props)
    for edit in edits:
        edit(out)
    return out


def container(props: dict[str, Any]) -> dict[str, Any]:
    """The first container of a workload's pod template."""
    return props["spec"]["template"]["spec"]["containers"][0]


def pod(props: dict[str, Any]) -> dict[str, Any]:
    """The pod spec of a workload."""
    return props["spec"]["template"]["spec"]


def set_env(name: str, value: Any = None, value_from: dict[str, Any] | None = None) -> Edit:
    """An edit that sets (or adds) an env entry on the first container."""

    def edit(props: dict[str, Any]) -> None:
        env = container(props).setdefault("env", [])
        env[:] = [e for e in env if e.get("name") != name]
        entry: dict[str, Any] = {"name": name}
        if value is not None:
            entry["value"] = value
        if value_from is not None:
            entry["valueFrom"] = value_from
        env.append(entry)

    return edit


def drop_env(name: str) -> Edit:
    """An edit that removes an env entry from the first container."""

    def edit(props: dict[str, Any]) -> None:
        env = container(props).get("env", [])
        env[:] = [e for e in env if e.get("name") != name]

    return edit


def workload(*edits: Edit, queue: str = "billing") -> Workload:
    """The worker view of the good Deployment of `queue` after `edits`."""
    props = edited(ws.deployment_props(queue), *edits)
    found = worker_workload(resource(ws.DEPLOYMENT, f"{queue}-worker", props))
    assert found is not None
    return found


def stack(*resources: Resource) -> Stack:
    """A `Stack` of the given resources."""
    return Stack.of(resources)


def deployment(queue: str, *edits: Edit, name: str | None = None) -> Resource:
    """A worker Deployment resource of `queue`."""
    props = edited(ws.deployment_props(queue), *edits)
    if name is not None:
        props["metadata"]["name"] = name
    return resource(ws.DEPLOYMENT, name or f"{queue}-worker", props)


def hpa(queue: str, *edits: Edit, target: str | None = None) -> Resource:
    """An HPA resource of `queue` (targeting `target`, default `<queue>-worker`)."""
    props = edited(ws.hpa_props(queue), *edits)
    if target is not None:
        props["spec"]["scaleTargetRef"]["name"] = target
    return resource(ws.HPA, f"{queue}-worker", props)


def pdb(queue: str, *edits: Edit) -> Resource:
    """A PDB resource of `queue`."""
    return resource(ws.PDB, f"{queue}-worker", edited(ws.pdb_props(queue), *edits))


def scaled_object(queue: str, spec: dict[str, Any], namespace: str = ws.NAMESPACE) -> Resource:
    """A KEDA ScaledObject of `queue`."""
    props = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": f"{queue}-worker", "namespace": namespace},
        "spec": spec,
    }
    return resource(ws.SCALED_OBJECT, f"{queue}-worker", props)
