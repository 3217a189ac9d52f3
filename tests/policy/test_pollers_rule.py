"""Table-driven tests of `check_pollers` (temporal-two-pollers-per-queue)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from policies.temporal_policies.pollers import check_pollers
from policies.temporal_policies.resources import Resource
from tests.policy.rule_fixtures import (
    UNKNOWN,
    deployment,
    drop_env,
    hpa,
    pdb,
    scaled_object,
    set_env,
    stack,
)
from tests.support import worker_stacks as ws

pytestmark = pytest.mark.unit


def _replicas(n: object):
    def edit(props):
        props["spec"]["replicas"] = n

    return edit


def _min(n: object):
    def edit(props):
        props["spec"]["minReplicas"] = n

    return edit


def _drop_min(props):
    del props["spec"]["minReplicas"]


def _budget(**spec: object):
    def edit(props):
        props["spec"].pop("maxUnavailable", None)
        props["spec"].update(spec)

    return edit


def _drop_queue_label(props):
    props["metadata"]["labels"].pop("temporal.io/task-queue")
    props["spec"]["template"]["metadata"]["labels"].pop("temporal.io/task-queue")


def _build(build_id: str, role: str | None = None, by: str = "env"):
    """Make the workload one version's: its build id (env or TWC label) and its role annotation."""

    def edit(props):
        if by == "env":
            set_env("TEMPORAL_WORKER_BUILD_ID", build_id)(props)
        else:
            props["spec"]["template"]["metadata"]["labels"]["temporal.io/build-id"] = build_id
        if role is not None:
            annotations = props["metadata"].setdefault("annotations", {})
            annotations["temporal-workers.io/version-role"] = role

    return edit


def _version(queue: str, build: str, replicas: float, role: str | None = None, by: str = "env"):
    return deployment(
        queue, _replicas(replicas), _build(build, role, by), name=f"{queue}-worker-{build}"
    )


@dataclass(frozen=True)
class Case:
    id: str
    resources: tuple[Resource, ...]
    expected: tuple[str, ...]  # substrings of the findings' messages
    min_pollers: int = 2
    count: int = -1  # findings expected; -1: one if any substring is expected, else none


CASES = [
    Case(
        "versions never add up: v1 with 1 pod and v2 with 1 pod",
        (_version("billing", "v1", 1.0), _version("billing", "v2", 1.0)),
        (
            'queue "billing" version "v1": 1 guaranteed poller',
            'queue "billing" version "v2": 1 guaranteed poller',
        ),
        count=2,
    ),
    Case(
        "two versions with 2 each",
        (_version("billing", "v1", 2.0, "draining"), _version("billing", "v2", 2.0, "current")),
        (),
    ),
    Case(
        "a draining version with 1 poller",
        (_version("billing", "v1", 1.0, "draining"), _version("billing", "v2", 3.0, "current")),
        ('queue "billing" version "v1": 1 guaranteed poller (Deployment billing-worker-v1',),
    ),
    Case(
        "a drained version at 0 is its sunset",
        (_version("billing", "v1", 0.0, "drained"), _version("billing", "v2", 2.0, "current")),
        (),
    ),
    Case(
        "a drained version at 1 is still a live version with 1 poller",
        (_version("billing", "v1", 1.0, "drained"), _version("billing", "v2", 2.0, "current")),
        ('queue "billing" version "v1": 1 guaranteed poller',),
    ),
    Case(
        "a version at 0 without a sunset role",
        (_version("billing", "v1", 0.0), _version("billing", "v2", 2.0)),
        ('queue "billing" version "v1": 0 guaranteed pollers',),
    ),
    Case(
        "every version at 0",
        (_version("billing", "v1", 0.0, "drained"), _version("billing", "v2", 0.0, "inactive")),
        ('queue "billing": every version (v1, v2) is scaled to 0, no poller serves it',),
    ),
    Case(
        "hand-written stack with TWC's build-id label",
        (
            _version("billing", "v1", 1.0, by="label"),
            _version("billing", "v2", 1.0, by="label"),
        ),
        ('version "v1": 1 guaranteed poller', 'version "v2": 1 guaranteed poller'),
        count=2,
    ),
    Case(
        "unversioned and versioned workers do not add up",
        (deployment("billing", _replicas(1.0)), _version("billing", "v2", 1.0)),
        ('queue "billing": 1 guaranteed poller', 'queue "billing" version "v2": 1 guaranteed'),
        count=2,
    ),
    Case("hpa min 2 with pdb", (deployment("billing"), hpa("billing"), pdb("billing")), ()),
    Case(
        "hpa min 1",
        (deployment("billing"), hpa("billing", _min(1.0))),
        (
            'queue "billing": 1 guaranteed poller (HPA billing-worker minReplicas=1); '
            "set minReplicas >= 2",
        ),
    ),
    Case(
        "hpa min absent means 1",
        (deployment("billing"), hpa("billing", _drop_min)),
        ("(HPA billing-worker minReplicas absent, default 1); set minReplicas >= 2",),
    ),
    Case(
        "replicas absent means 1",
        (deployment("billing"),),
        ("1 guaranteed poller (Deployment billing-worker replicas absent, default 1)",),
    ),
    Case(
        "replicas 1.0 as the engine sends it",
        (deployment("billing", _replicas(1.0)),),
        ("(Deployment billing-worker replicas=1); set replicas >= 2 (or target it with an HPA",),
    ),
    Case("replicas 2", (deployment("billing", _replicas(2.0)),), ()),
    Case(
        "replicas 0",
        (deployment("billing", _replicas(0.0)),),
        ('queue "billing": 0 guaranteed pollers',),
    ),
    Case(
        "two workloads of one queue add up",
        (
            deployment("billing", _replicas(1.0)),
            deployment("billing", _replicas(1.0), name="billing-worker-b"),
        ),
        (),
    ),
    Case(
        "two workloads still short",
        (
            deployment("billing", _replicas(1.0)),
            deployment("billing", _replicas(0.0), name="billing-worker-b"),
        ),
        (
            "1 guaranteed poller (Deployment billing-worker replicas=1, "
            "Deployment billing-worker-b replicas=0); raise replicas so they add up to >= 2",
        ),
    ),
    Case(
        "hpa overrides replicas",
        (deployment("billing", _replicas(1.0)), hpa("billing", _min(3.0))),
        (),
    ),
    Case(
        "hpa of another deployment does not count",
        (deployment("billing", _replicas(1.0)), hpa("billing", target="other")),
        ("(Deployment billing-worker replicas=1)",),
    ),
    Case(
        "hpa in another namespace does not count",
        (
            deployment("billing", _replicas(1.0)),
            hpa("billing", lambda p: p["metadata"].__setitem__("namespace", "elsewhere")),
        ),
        ("(Deployment billing-worker replicas=1)",),
    ),
    Case(
        "hpa for a StatefulSet of that name does not count",
        (
            deployment("billing", _replicas(1.0)),
            hpa(
                "billing", lambda p: p["spec"]["scaleTargetRef"].__setitem__("kind", "StatefulSet")
            ),
        ),
        ("(Deployment billing-worker replicas=1)",),
    ),
    Case(
        "keda minReplicaCount absent means 0",
        (
            deployment("billing"),
            scaled_object("billing", {"scaleTargetRef": {"name": "billing-worker"}}),
        ),
        (
            'queue "billing": 0 guaranteed pollers (ScaledObject billing-worker minReplicaCount '
            "absent, KEDA default 0); set minReplicaCount >= 2",
        ),
    ),
    Case(
        "keda minReplicaCount 2",
        (
            deployment("billing"),
            scaled_object(
                "billing", {"scaleTargetRef": {"name": "billing-worker"}, "minReplicaCount": 2.0}
            ),
        ),
        (),
    ),
    Case(
        "queue from env only",
        (deployment("billing", _drop_queue_label, _replicas(1.0)),),
        ('queue "billing": 1 guaranteed poller',),
    ),
    Case(
        "env names the exact queue, the label is sanitised",
        (deployment("billing", set_env("TEMPORAL_TASK_QUEUE", "billing/v2"), _replicas(1.0)),),
        ('queue "billing/v2": 1 guaranteed poller',),
    ),
    Case(
        "label only",
        (deployment("billing", drop_env("TEMPORAL_TASK_QUEUE"), _replicas(1.0)),),
        ('queue "billing": 1 guaranteed poller',),
    ),
    Case(
        "not a worker",
        (deployment("billing", _drop_queue_label, drop_env("TEMPORAL_TASK_QUEUE")),),
        (),
    ),
    Case("min pollers 3", (deployment("billing"), hpa("billing")), ("set minReplicas >= 3",), 3),
    Case("min pollers 1", (deployment("billing"),), (), 1),
    Case(
        "pdb lets both pods go",
        (deployment("billing"), hpa("billing"), pdb("billing", _budget(maxUnavailable=2.0))),
        (
            'queue "billing": PDB billing-worker (maxUnavailable=2) lets all 2 guaranteed pollers '
            "be evicted at once; set maxUnavailable <= 1",
        ),
    ),
    Case(
        "pdb minAvailable 0",
        (deployment("billing"), hpa("billing"), pdb("billing", _budget(minAvailable=0.0))),
        ("PDB billing-worker (minAvailable=0) lets all 2 guaranteed pollers", "minAvailable >= 1"),
    ),
    Case(
        "pdb maxUnavailable 100%",
        (deployment("billing"), hpa("billing"), pdb("billing", _budget(maxUnavailable="100%"))),
        ("(maxUnavailable=100%) lets all 2 guaranteed pollers",),
    ),
    Case(
        "pdb maxUnavailable 50% rounds up to 1 of 2",
        (deployment("billing"), hpa("billing"), pdb("billing", _budget(maxUnavailable="50%"))),
        (),
    ),
    Case(
        "pdb minAvailable 1",
        (deployment("billing"), hpa("billing"), pdb("billing", _budget(minAvailable=1.0))),
        (),
    ),
    Case(
        "pdb selecting other pods does not apply",
        (
            deployment("billing"),
            hpa("billing"),
            pdb(
                "billing",
                _budget(maxUnavailable=2.0),
                lambda p: p["spec"].__setitem__("selector", {"matchLabels": {"app": "other"}}),
            ),
        ),
        (),
    ),
    Case(
        "two pdbs on the same pods block evictions",
        (
            deployment("billing"),
            hpa("billing"),
            pdb("billing", _budget(maxUnavailable=2.0)),
            pdb("billing", _budget(maxUnavailable=2.0)),
        ),
        (),
    ),
    Case(
        "pdb shared with a workload that may or may not be selected",
        (
            deployment("billing"),
            hpa("billing"),
            pdb(
                "billing",
                _budget(minAvailable=2.0),
                lambda p: p["spec"].__setitem__(
                    "selector", {"matchLabels": {"app.kubernetes.io/name": "temporal-worker"}}
                ),
            ),
            deployment(
                "other",
                _replicas(2.0),
                lambda p: p["spec"]["template"]["metadata"]["labels"].__setitem__(
                    "app.kubernetes.io/name", UNKNOWN
                ),
            ),
        ),
        (),
    ),
    # Unknown values during preview never produce a violation.
    Case("unknown replicas", (deployment("billing", _replicas(UNKNOWN)),), ()),
    Case("unknown hpa min", (deployment("billing"), hpa("billing", _min(UNKNOWN))), ()),
    Case(
        "unknown hpa target",
        (deployment("billing", _replicas(1.0)), hpa("billing", target=UNKNOWN)),
        (),
    ),
    Case(
        "unknown deployment name",
        (
            deployment("billing", lambda p: p["metadata"].__setitem__("name", UNKNOWN)),
            hpa("billing"),
        ),
        (),
    ),
    Case(
        "unknown queue env could be any queue's second poller",
        (
            deployment("billing", _replicas(1.0)),
            deployment(
                "other", _drop_queue_label, set_env("TEMPORAL_TASK_QUEUE", UNKNOWN), _replicas(1.0)
            ),
        ),
        (),
    ),
    Case(
        "unknown pdb selector",
        (
            deployment("billing"),
            hpa("billing"),
            pdb(
                "billing",
                _budget(maxUnavailable=2.0),
                lambda p: p["spec"].__setitem__("selector", UNKNOWN),
            ),
        ),
        (),
    ),
    Case(
        "unknown pdb amount",
        (deployment("billing"), hpa("billing"), pdb("billing", _budget(maxUnavailable=UNKNOWN))),
        (),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_check_pollers(case: Case) -> None:
    findings = check_pollers(stack(*case.resources), case.min_pollers)
    assert len(findings) == (case.count if case.count >= 0 else min(len(case.expected), 1))
    messages = "\n".join(finding.message for finding in findings)
    for fragment in case.expected:
        assert fragment in messages


def test_finding_points_at_the_resource_to_fix() -> None:
    [finding] = check_pollers(stack(deployment("billing"), hpa("billing", _min(1.0))))
    assert finding.urn is not None and finding.urn.endswith(
        "HorizontalPodAutoscaler::billing-worker"
    )
    [finding] = check_pollers(stack(deployment("billing", _replicas(1.0))))
    assert finding.urn is not None and finding.urn.endswith("Deployment::billing-worker")


def test_each_short_queue_is_reported_once() -> None:
    resources = [deployment(q, _replicas(1.0)) for q in ("a", "b", "c")]
    resources.append(deployment("ok", _replicas(2.0)))
    findings = check_pollers(stack(*resources))
    assert [f.message.split(":")[0] for f in findings] == ['queue "a"', 'queue "b"', 'queue "c"']


def test_statefulset_workers_count() -> None:
    props = ws.deployment_props("billing")
    props["kind"] = "StatefulSet"
    props["spec"]["replicas"] = 1.0
    sts = Resource(ws.STATEFULSET, "urn:x", "billing-worker", props, "default")
    [finding] = check_pollers(stack(sts))
    assert "(StatefulSet billing-worker replicas=1)" in finding.message


def test_a_pdb_shared_by_two_queues_may_spend_its_allowance_on_either() -> None:
    shared = {"matchLabels": {"app.kubernetes.io/name": "temporal-worker"}}
    resources = (
        deployment("billing"),
        hpa("billing"),
        deployment("orders", _replicas(2.0)),
        pdb(
            "billing",
            _budget(minAvailable=2.0),
            lambda p: p["spec"].__setitem__("selector", shared),
        ),
    )
    findings = check_pollers(stack(*resources))
    assert [f.message for f in findings] == [
        f'queue "{queue}": PDB billing-worker (minAvailable=2) lets all 2 guaranteed pollers be '
        "evicted at once; set minAvailable >= 3 (or maxUnavailable=1)"
        for queue in ("billing", "orders")
    ]
