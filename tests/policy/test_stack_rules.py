"""Table-driven tests of the stack-wide advisory rules and of worker identification."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from policies.temporal_policies.coverage import check_pdb_per_queue, check_scale_down_stabilization
from policies.temporal_policies.resources import Resource
from policies.temporal_policies.workloads import worker_workload
from tests.policy.rule_fixtures import (
    UNKNOWN,
    container,
    deployment,
    drop_env,
    hpa,
    pdb,
    resource,
    scaled_object,
    set_env,
    stack,
)
from tests.support import worker_stacks as ws

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class Case:
    id: str
    resources: tuple[Resource, ...]
    expected: tuple[str, ...] = ()


def _selector(value: object):
    return lambda p: p["spec"].__setitem__("selector", value)


PDB_CASES = [
    Case("covered", (deployment("billing"), pdb("billing"))),
    Case(
        "no pdb",
        (deployment("billing"),),
        (
            'Deployment billing-worker (queue "billing"): no PodDisruptionBudget selects its pods; '
            "add one with maxUnavailable=1 selecting temporal.io/task-queue=billing",
        ),
    ),
    Case(
        "pdb of another queue",
        (deployment("billing"), deployment("orders"), pdb("orders")),
        ('Deployment billing-worker (queue "billing"): no PodDisruptionBudget',),
    ),
    Case(
        "matchExpressions In",
        (
            deployment("billing"),
            pdb(
                "billing",
                _selector(
                    {
                        "matchExpressions": [
                            {
                                "key": "temporal.io/task-queue",
                                "operator": "In",
                                "values": ["billing", "orders"],
                            }
                        ]
                    }
                ),
            ),
        ),
    ),
    Case(
        "matchExpressions NotIn",
        (
            deployment("billing"),
            pdb(
                "billing",
                _selector(
                    {
                        "matchExpressions": [
                            {
                                "key": "temporal.io/task-queue",
                                "operator": "NotIn",
                                "values": ["billing"],
                            }
                        ]
                    }
                ),
            ),
        ),
        ("no PodDisruptionBudget",),
    ),
    Case("empty selector selects all", (deployment("billing"), pdb("billing", _selector({})))),
    Case(
        "null selector selects none",
        (deployment("billing"), pdb("billing", _selector(None))),
        ("no PodDisruptionBudget",),
    ),
    Case("unknown selector", (deployment("billing"), pdb("billing", _selector(UNKNOWN)))),
    Case(
        "pdb in another namespace",
        (
            deployment("billing"),
            pdb("billing", lambda p: p["metadata"].__setitem__("namespace", "x")),
        ),
        ("no PodDisruptionBudget",),
    ),
]


@pytest.mark.parametrize("case", PDB_CASES, ids=[c.id for c in PDB_CASES])
def test_check_pdb_per_queue(case: Case) -> None:
    findings = check_pdb_per_queue(stack(*case.resources))
    assert [f.message for f in findings if any(e in f.message for e in case.expected)] == [
        f.message for f in findings
    ]
    assert len(findings) == len(case.expected), findings


def _behavior(value: object):
    return lambda p: p["spec"].__setitem__("behavior", value)


SCALE_DOWN_CASES = [
    Case("300 s", (deployment("billing"), hpa("billing"))),
    Case(
        "absent means the HPA default 300",
        (deployment("billing"), hpa("billing", lambda p: p["spec"].pop("behavior"))),
    ),
    Case(
        "0 s",
        (
            deployment("billing"),
            hpa("billing", _behavior({"scaleDown": {"stabilizationWindowSeconds": 0.0}})),
        ),
        (
            'HPA billing-worker (queue "billing"): '
            "behavior.scaleDown.stabilizationWindowSeconds=0; set it >= 300",
        ),
    ),
    Case(
        "scale-down disabled",
        (
            deployment("billing"),
            hpa(
                "billing",
                _behavior(
                    {"scaleDown": {"stabilizationWindowSeconds": 0.0, "selectPolicy": "Disabled"}}
                ),
            ),
        ),
    ),
    Case(
        "hpa of a non-worker is not judged",
        (
            deployment("billing"),
            hpa(
                "billing",
                _behavior({"scaleDown": {"stabilizationWindowSeconds": 0.0}}),
                target="web",
            ),
        ),
    ),
    Case(
        "unknown window",
        (
            deployment("billing"),
            hpa("billing", _behavior({"scaleDown": {"stabilizationWindowSeconds": UNKNOWN}})),
        ),
    ),
    Case(
        "keda window",
        (
            deployment("billing"),
            scaled_object(
                "billing",
                {
                    "scaleTargetRef": {"name": "billing-worker"},
                    "minReplicaCount": 2.0,
                    "advanced": {
                        "horizontalPodAutoscalerConfig": {
                            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 30.0}}
                        }
                    },
                },
            ),
        ),
        ('ScaledObject billing-worker (queue "billing"): advanced.horizontalPodAutoscalerConfig',),
    ),
]


@pytest.mark.parametrize("case", SCALE_DOWN_CASES, ids=[c.id for c in SCALE_DOWN_CASES])
def test_check_scale_down_stabilization(case: Case) -> None:
    findings = check_scale_down_stabilization(stack(*case.resources), 300.0)
    assert len(findings) == len(case.expected), findings
    for finding, fragment in zip(findings, case.expected, strict=True):
        assert fragment in finding.message


def _no_labels(props) -> None:
    props["metadata"]["labels"].pop("temporal.io/task-queue")
    props["spec"]["template"]["metadata"]["labels"].pop("temporal.io/task-queue")


@dataclass(frozen=True)
class Identify:
    id: str
    edits: tuple
    is_worker: bool
    queues: tuple[str, ...] = ()
    queue_unknown: bool = False
    certain: bool = True
    containers: tuple[str, ...] = ("worker",)


def _sidecar_first(props) -> None:
    containers = props["spec"]["template"]["spec"]["containers"]
    containers.insert(0, {"name": "proxy", "image": "envoy"})


IDENTIFY_CASES = [
    Identify("label and env", (), True, ("billing",)),
    Identify("env only", (_no_labels,), True, ("billing",)),
    Identify("label only", (drop_env("TEMPORAL_TASK_QUEUE"),), True, ("billing",)),
    Identify("neither", (_no_labels, drop_env("TEMPORAL_TASK_QUEUE")), False),
    Identify(
        "label only picks the first container",
        (drop_env("TEMPORAL_TASK_QUEUE"), _sidecar_first),
        True,
        ("billing",),
        containers=("proxy",),
    ),
    Identify(
        "label only honours the default-container annotation",
        (
            drop_env("TEMPORAL_TASK_QUEUE"),
            _sidecar_first,
            lambda p: p["spec"]["template"]["metadata"].__setitem__(
                "annotations", {"kubectl.kubernetes.io/default-container": "worker"}
            ),
        ),
        True,
        ("billing",),
    ),
    Identify("env picks the worker container", (_sidecar_first,), True, ("billing",)),
    Identify(
        "env from a ConfigMap falls back to the label",
        (
            set_env(
                "TEMPORAL_TASK_QUEUE", value_from={"configMapKeyRef": {"name": "q", "key": "q"}}
            ),
        ),
        True,
        ("billing",),
    ),
    Identify(
        "env from a ConfigMap and no label",
        (
            _no_labels,
            set_env(
                "TEMPORAL_TASK_QUEUE", value_from={"configMapKeyRef": {"name": "q", "key": "q"}}
            ),
        ),
        True,
        (),
        queue_unknown=True,
    ),
    Identify(
        "unknown labels may make it a worker",
        (
            drop_env("TEMPORAL_TASK_QUEUE"),
            lambda p: p["metadata"].__setitem__("labels", UNKNOWN),
            lambda p: p["spec"]["template"]["metadata"].__setitem__("labels", UNKNOWN),
        ),
        True,
        (),
        queue_unknown=True,
        certain=False,
    ),
    Identify(
        "two worker containers, two queues",
        (
            lambda p: p["spec"]["template"]["spec"]["containers"].append(
                {
                    **container(p),
                    "name": "worker-b",
                    "env": [{"name": "TEMPORAL_TASK_QUEUE", "value": "b"}],
                }
            ),
        ),
        True,
        ("billing", "b"),
        containers=("worker", "worker-b"),
    ),
]


@pytest.mark.parametrize("case", IDENTIFY_CASES, ids=[c.id for c in IDENTIFY_CASES])
def test_worker_identification(case: Identify) -> None:
    props = ws.deployment_props("billing")
    for edit in case.edits:
        edit(props)
    found = worker_workload(resource(ws.DEPLOYMENT, "billing-worker", props))
    assert (found is not None) == case.is_worker
    if found is None:
        return
    assert found.queues == case.queues
    assert found.queue_unknown == case.queue_unknown
    assert found.certain == case.certain
    assert tuple(c.name for c in found.containers) == case.containers


@pytest.mark.parametrize(
    "resource_type",
    [
        ws.HPA,
        ws.PDB,
        ws.SERVICE,
        ws.CONFIG_MAP,
        "kubernetes:apps/v1:DaemonSet",
        "aws:s3/bucket:Bucket",
    ],
)
def test_only_deployments_and_statefulsets_are_workloads(resource_type: str) -> None:
    assert worker_workload(resource(resource_type, "x", ws.deployment_props("billing"))) is None


def test_provider_default_namespace_matches_unnamespaced_objects() -> None:
    dep = ws.deployment_props("billing")
    dep["spec"]["replicas"] = 1.0
    del dep["metadata"]["namespace"]
    scaler = ws.hpa_props("billing")
    del scaler["metadata"]["namespace"]
    workers = resource(ws.DEPLOYMENT, "d", dep, namespace="workers")
    scaled = resource(ws.HPA, "h", scaler, namespace="workers")
    elsewhere = resource(ws.HPA, "h", ws.hpa_props("billing"), namespace="workers")
    from policies.temporal_policies.pollers import check_pollers

    assert check_pollers(stack(workers, scaled)) == []
    [finding] = check_pollers(stack(workers, elsewhere))
    assert "replicas=1" in finding.message
