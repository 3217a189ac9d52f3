"""The pack started as the engine starts it and driven over the Analyzer gRPC protocol.

One pack process serves the module; each test reconfigures it (Configure replaces the config).
Bad stacks are the good stack with one mutation, each rejected by the right policy and by no other
mandatory one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime.proto import analyzer_pb2

from tests.support import worker_stacks as ws
from tests.support.analyzer_client import (
    POLICY_PACK_DIR,
    REPO_ROOT,
    UNKNOWN,
    AnalyzerSession,
    Diagnostic,
    PackProcess,
    PolicyPackRun,
    Provider,
    StackResource,
    fake_engine,
    judge_resources,
    load_config_file,
    policy_pack,
    reconcile_config,
    secret,
)

pytestmark = pytest.mark.policy

MANDATORY = {"temporal-two-pollers-per-queue", "temporal-graceful-shutdown"}
ADVISORY = {
    "temporal-image-pinned-by-digest",
    "temporal-worker-resources",
    "temporal-worker-probes",
    "temporal-worker-security-context",
    "temporal-worker-spread-across-nodes",
    "temporal-credentials-from-secrets",
    "temporal-pdb-per-queue",
    "temporal-hpa-scale-down-stabilization",
}
STACK_POLICIES = {
    "temporal-two-pollers-per-queue",
    "temporal-pdb-per-queue",
    "temporal-hpa-scale-down-stabilization",
}


@pytest.fixture(scope="module")
def pack() -> Iterator[PolicyPackRun]:
    with policy_pack() as run:
        yield run
        assert run.engine.errors == [], run.engine.errors
        assert "Traceback" not in run.process.stderr, run.process.stderr


@pytest.fixture
def session(pack: PolicyPackRun) -> AnalyzerSession:
    pack.session.configure(None)
    return pack.session


def _container(props: dict[str, Any]) -> dict[str, Any]:
    return props["spec"]["template"]["spec"]["containers"][0]


def _pod(props: dict[str, Any]) -> dict[str, Any]:
    return props["spec"]["template"]["spec"]


def _set_env(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(props: dict[str, Any]) -> None:
        env = [e for e in _container(props)["env"] if e["name"] != name]
        _container(props)["env"] = [*env, {"name": name, "value": value}]

    return edit


def _keda_instead_of_hpa(
    stack: list[StackResource], queue: str, spec: dict[str, Any]
) -> list[StackResource]:
    name = f"{queue}-worker"
    scaled = StackResource(
        type=ws.SCALED_OBJECT,
        name=name,
        props={
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": ws.metadata(name, queue),
            "spec": {"scaleTargetRef": {"name": name}, **spec},
        },
    )
    return [*ws.without(stack, ws.HPA, name), scaled]


@dataclass(frozen=True)
class Mutation:
    id: str
    make: Callable[[list[StackResource]], list[StackResource]]
    policy: str
    fragment: str
    urn_suffix: str


def _edit(resource_type: str, name: str, change: Callable[[dict[str, Any]], None]):
    return lambda stack: ws.mutate(stack, resource_type, name, change)


MANDATORY_MUTATIONS = [
    Mutation(
        "hpa minReplicas 1",
        _edit(ws.HPA, "billing-worker", lambda p: p["spec"].__setitem__("minReplicas", 1.0)),
        "temporal-two-pollers-per-queue",
        'queue "billing": 1 guaranteed poller (HPA billing-worker minReplicas=1); '
        "set minReplicas >= 2",
        "HorizontalPodAutoscaler::billing-worker",
    ),
    Mutation(
        "no autoscaler, replicas absent",
        lambda stack: ws.without(stack, ws.HPA, "orders-worker"),
        "temporal-two-pollers-per-queue",
        'queue "orders": 1 guaranteed poller (Deployment orders-worker replicas absent, default 1)',
        "Deployment::orders-worker",
    ),
    Mutation(
        "keda minReplicaCount absent",
        lambda stack: _keda_instead_of_hpa(stack, "shipments", {"maxReplicaCount": 10.0}),
        "temporal-two-pollers-per-queue",
        'queue "shipments": 0 guaranteed pollers (ScaledObject shipments-worker minReplicaCount '
        "absent, KEDA default 0); set minReplicaCount >= 2",
        "ScaledObject::shipments-worker",
    ),
    Mutation(
        "pdb lets every poller go",
        _edit(ws.PDB, "billing-worker", lambda p: p["spec"].__setitem__("maxUnavailable", 2.0)),
        "temporal-two-pollers-per-queue",
        'queue "billing": PDB billing-worker (maxUnavailable=2) lets all 2 guaranteed pollers be '
        "evicted at once; set maxUnavailable <= 1",
        "PodDisruptionBudget::billing-worker",
    ),
    Mutation(
        "no preStop",
        _edit(ws.DEPLOYMENT, "orders-worker", lambda p: _container(p).pop("lifecycle")),
        "temporal-graceful-shutdown",
        'Deployment orders-worker (queue "orders"): container "worker" has no preStop hook',
        "Deployment::orders-worker",
    ),
    Mutation(
        "grace period absent (30) below drain + buffer",
        _edit(
            ws.DEPLOYMENT, "billing-worker", lambda p: _pod(p).pop("terminationGracePeriodSeconds")
        ),
        "temporal-graceful-shutdown",
        "terminationGracePeriodSeconds absent (30) < WORKER_GRACEFUL_SHUTDOWN_SECONDS=30 + 10 s "
        "buffer; set terminationGracePeriodSeconds >= 40",
        "Deployment::billing-worker",
    ),
    Mutation(
        "drain longer than the grace period",
        _edit(
            ws.DEPLOYMENT, "shipments-worker", _set_env("WORKER_GRACEFUL_SHUTDOWN_SECONDS", "90")
        ),
        "temporal-graceful-shutdown",
        "terminationGracePeriodSeconds=45 < WORKER_GRACEFUL_SHUTDOWN_SECONDS=90 + 10 s buffer; "
        "set terminationGracePeriodSeconds >= 100",
        "Deployment::shipments-worker",
    ),
    Mutation(
        "zero drain budget",
        _edit(ws.DEPLOYMENT, "billing-worker", _set_env("WORKER_GRACEFUL_SHUTDOWN_SECONDS", "0")),
        "temporal-graceful-shutdown",
        "WORKER_GRACEFUL_SHUTDOWN_SECONDS=0 leaves no time to finish in-flight tasks",
        "Deployment::billing-worker",
    ),
]

ADVISORY_MUTATIONS = [
    Mutation(
        "image by tag",
        _edit(
            ws.DEPLOYMENT,
            "orders-worker",
            lambda p: _container(p).__setitem__("image", "acme/worker:1.4"),
        ),
        "temporal-image-pinned-by-digest",
        'container "worker" image "acme/worker:1.4" is pinned by tag only; pin it by digest',
        "Deployment::orders-worker",
    ),
    Mutation(
        "no resources",
        _edit(ws.DEPLOYMENT, "orders-worker", lambda p: _container(p).pop("resources")),
        "temporal-worker-resources",
        'container "worker" has no resources.requests.cpu',
        "Deployment::orders-worker",
    ),
    Mutation(
        "no readiness probe",
        _edit(ws.DEPLOYMENT, "orders-worker", lambda p: _container(p).pop("readinessProbe")),
        "temporal-worker-probes",
        'container "worker" has no readinessProbe; add httpGet /readyz',
        "Deployment::orders-worker",
    ),
    Mutation(
        "writable root filesystem",
        _edit(
            ws.DEPLOYMENT,
            "orders-worker",
            lambda p: _container(p)["securityContext"].__setitem__("readOnlyRootFilesystem", False),
        ),
        "temporal-worker-security-context",
        'container "worker" securityContext has readOnlyRootFilesystem=false; '
        "set readOnlyRootFilesystem: true",
        "Deployment::orders-worker",
    ),
    Mutation(
        "no spread",
        _edit(ws.DEPLOYMENT, "orders-worker", lambda p: _pod(p).pop("topologySpreadConstraints")),
        "temporal-worker-spread-across-nodes",
        'Deployment orders-worker (queue "orders"): nothing keeps its pods off a single node',
        "Deployment::orders-worker",
    ),
    Mutation(
        "literal api key (a Pulumi secret is still a literal in the pod spec)",
        _edit(
            ws.DEPLOYMENT, "orders-worker", _set_env("TEMPORAL_API_KEY", secret("tk_live_123456"))
        ),
        "temporal-credentials-from-secrets",
        'container "worker" sets TEMPORAL_API_KEY as a literal env value; use '
        "env.valueFrom.secretKeyRef",
        "Deployment::orders-worker",
    ),
    Mutation(
        "no pdb",
        lambda stack: ws.without(stack, ws.PDB, "orders-worker"),
        "temporal-pdb-per-queue",
        'Deployment orders-worker (queue "orders"): no PodDisruptionBudget selects its pods',
        "Deployment::orders-worker",
    ),
    Mutation(
        "hpa scales down at once",
        _edit(
            ws.HPA,
            "orders-worker",
            lambda p: p["spec"]["behavior"]["scaleDown"].__setitem__(
                "stabilizationWindowSeconds", 0.0
            ),
        ),
        "temporal-hpa-scale-down-stabilization",
        'HPA orders-worker (queue "orders"): behavior.scaleDown.stabilizationWindowSeconds=0',
        "HorizontalPodAutoscaler::orders-worker",
    ),
]


def test_analyzer_info(session: AnalyzerSession) -> None:
    info = session.info()
    assert info.name == "temporal-workers"
    assert info.supportsConfig
    policies = {p.name: p for p in session.policies()}
    assert set(policies) == MANDATORY | ADVISORY
    assert {n for n, p in policies.items() if p.enforcement == "mandatory"} == MANDATORY
    assert {n for n, p in policies.items() if p.enforcement == "advisory"} == ADVISORY
    stack_type = {p.policy_type for n, p in policies.items() if n in STACK_POLICIES}
    resource_type = {p.policy_type for n, p in policies.items() if n not in STACK_POLICIES}
    assert len(stack_type) == 1 and len(resource_type) == 1 and stack_type != resource_type
    pollers = policies["temporal-two-pollers-per-queue"].config_schema["properties"]
    assert pollers["minPollers"]["default"] == 2
    shutdown = policies["temporal-graceful-shutdown"].config_schema["properties"]
    assert shutdown["bufferSeconds"]["default"] == 10
    assert shutdown["defaultShutdownSeconds"]["default"] == 30
    high = {n for n, p in policies.items() if p.severity == analyzer_pb2.POLICY_SEVERITY_HIGH}
    assert high == MANDATORY | {"temporal-credentials-from-secrets"}
    assert session.plugin_version() == "1.21.0"


def test_the_good_stack_passes_every_policy(session: AnalyzerSession, pack: PolicyPackRun) -> None:
    stack = ws.good_stack(3)
    assert len(stack) == 21
    assert session.judge(stack) == []
    assert pack.engine.errors == []


def _mandatory(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.mandatory]


@pytest.mark.parametrize("mutation", MANDATORY_MUTATIONS, ids=[m.id for m in MANDATORY_MUTATIONS])
def test_each_mandatory_rule_rejects_its_mutation(
    session: AnalyzerSession, mutation: Mutation
) -> None:
    diagnostics = session.judge(mutation.make(ws.good_stack(3)))
    blocking = _mandatory(diagnostics)
    assert [d.policy for d in blocking] == [mutation.policy], blocking
    [diagnostic] = blocking
    assert mutation.fragment in diagnostic.message
    assert diagnostic.urn.endswith(mutation.urn_suffix)
    assert len(diagnostic.message.splitlines()) <= 2


@pytest.mark.parametrize("mutation", ADVISORY_MUTATIONS, ids=[m.id for m in ADVISORY_MUTATIONS])
def test_each_advisory_rule_reports_its_mutation(
    session: AnalyzerSession, mutation: Mutation
) -> None:
    diagnostics = session.judge(mutation.make(ws.good_stack(3)))
    assert _mandatory(diagnostics) == []
    assert [d.policy for d in diagnostics] == [mutation.policy], diagnostics
    [diagnostic] = diagnostics
    assert diagnostic.enforcement == "advisory"
    assert mutation.fragment in diagnostic.message
    assert diagnostic.urn.endswith(mutation.urn_suffix)
    assert "tk_live_123456" not in diagnostic.message


def _unknowns(stack: list[StackResource]) -> list[StackResource]:
    """Values a preview cannot know yet: an output-derived name, replicas, image, secret ref."""

    def deployment(p: dict[str, Any]) -> None:
        p["metadata"]["name"] = UNKNOWN
        p["spec"]["replicas"] = UNKNOWN
        _container(p)["image"] = UNKNOWN
        _container(p)["env"][4]["valueFrom"]["secretKeyRef"]["name"] = UNKNOWN

    def hpa(p: dict[str, Any]) -> None:
        p["spec"]["scaleTargetRef"]["name"] = UNKNOWN
        p["spec"]["minReplicas"] = UNKNOWN

    def pdb(p: dict[str, Any]) -> None:
        p["spec"]["selector"] = UNKNOWN

    stack = ws.mutate(stack, ws.DEPLOYMENT, "billing-worker", deployment)
    stack = ws.mutate(stack, ws.HPA, "billing-worker", hpa)
    return ws.mutate(stack, ws.PDB, "billing-worker", pdb)


def test_unknown_values_during_preview_produce_no_diagnostic(session: AnalyzerSession) -> None:
    # Not even the SDK's "can't run policy during preview" advisory: the rules read unknowns safely.
    assert session.judge(_unknowns(ws.good_stack(3))) == []


def test_unknowns_do_not_hide_violations_elsewhere(session: AnalyzerSession) -> None:
    stack = _unknowns(ws.good_stack(3))
    stack = ws.mutate(
        stack, ws.HPA, "orders-worker", lambda p: p["spec"].__setitem__("minReplicas", 1.0)
    )
    blocking = _mandatory(session.judge(stack))
    assert [d.message for d in blocking] == [
        'queue "orders": 1 guaranteed poller (HPA orders-worker minReplicas=1); '
        "set minReplicas >= 2"
    ]


def test_min_pollers_is_configurable(session: AnalyzerSession) -> None:
    sent = session.configure({"temporal-two-pollers-per-queue": {"minPollers": 3}})
    assert sent["temporal-two-pollers-per-queue"] == {
        "enforcementLevel": "mandatory",
        "minPollers": 3,
    }
    blocking = _mandatory(session.judge(ws.good_stack(3)))
    assert len(blocking) == 3
    assert all(d.message.endswith("set minReplicas >= 3") for d in blocking)


def test_buffer_is_configurable(session: AnalyzerSession) -> None:
    session.configure({"temporal-graceful-shutdown": {"bufferSeconds": 20}})
    blocking = _mandatory(session.judge(ws.good_stack(1)))
    assert [d.policy for d in blocking] == ["temporal-graceful-shutdown"]
    assert "+ 20 s buffer; set terminationGracePeriodSeconds >= 50" in blocking[0].message


@pytest.mark.parametrize(("level", "expected"), [("advisory", ["advisory"]), ("disabled", [])])
def test_enforcement_is_configurable(
    session: AnalyzerSession, level: str, expected: list[str]
) -> None:
    session.configure({"temporal-two-pollers-per-queue": level})
    stack = MANDATORY_MUTATIONS[0].make(ws.good_stack(3))
    assert [d.enforcement for d in session.judge(stack)] == expected


def test_invalid_config_is_rejected_like_the_engine_does(session: AnalyzerSession) -> None:
    with pytest.raises(ValueError, match="minPollers"):
        reconcile_config(session.policies(), {"temporal-two-pollers-per-queue": {"minPollers": 0}})
    with pytest.raises(ValueError, match="not a valid enforcement level"):
        reconcile_config(session.policies(), {"temporal-pdb-per-queue": "fatal"})


def test_production_profile_makes_every_policy_mandatory(session: AnalyzerSession) -> None:
    sent = session.configure(load_config_file(POLICY_PACK_DIR / "config" / "production.json"))
    assert {v["enforcementLevel"] for v in sent.values()} == {"mandatory"}
    assert session.judge(ws.good_stack(3)) == []
    blocking = _mandatory(session.judge(ADVISORY_MUTATIONS[0].make(ws.good_stack(3))))
    assert [d.policy for d in blocking] == ["temporal-image-pinned-by-digest"]


def test_preview_profile_is_relaxed_but_still_blocks_lost_work(session: AnalyzerSession) -> None:
    session.configure(load_config_file(POLICY_PACK_DIR / "config" / "preview.json"))
    one_replica = ws.without(ws.good_stack(3), ws.HPA, "orders-worker")
    one_replica = ws.mutate(
        one_replica,
        ws.DEPLOYMENT,
        "orders-worker",
        lambda p: _container(p).__setitem__("image", "acme/worker:dev"),
    )
    one_replica = ws.without(one_replica, ws.PDB, "orders-worker")
    assert session.judge(one_replica) == []
    zero = ws.mutate(
        one_replica,
        ws.DEPLOYMENT,
        "orders-worker",
        lambda p: p["spec"].__setitem__("replicas", 0.0),
    )
    blocking = _mandatory(session.judge(zero))
    assert [d.message for d in blocking] == [
        'queue "orders": 0 guaranteed pollers (Deployment orders-worker replicas=0); '
        "set replicas >= 1 (or target it with an HPA whose minReplicas >= 1)"
    ]
    no_prestop = MANDATORY_MUTATIONS[4].make(ws.good_stack(3))
    assert [d.policy for d in _mandatory(session.judge(no_prestop))] == [
        "temporal-graceful-shutdown"
    ]


def _as_children(stack: list[StackResource], parent_type: str, parent: str) -> list[StackResource]:
    """The same objects as children of a ConfigGroup / Helm Chart (URN type chain, parent URN)."""
    parent_urn = f"urn:pulumi:dev::temporal-workers::{parent_type}::{parent}"
    out = []
    for r in stack:
        name = f"{parent}:{ws.NAMESPACE}/{r.name}"
        urn = f"urn:pulumi:dev::temporal-workers::{parent_type}${r.type}::{name}"
        out.append(StackResource(type=r.type, name=name, props=r.props, urn=urn, parent=parent_urn))
    return out


@pytest.mark.parametrize(
    ("parent_type", "parent"),
    [("kubernetes:yaml/v2:ConfigGroup", "workers"), ("kubernetes:helm.sh/v4:Chart", "workers")],
)
def test_resources_from_yaml_and_helm_are_judged_the_same(
    session: AnalyzerSession, parent_type: str, parent: str
) -> None:
    good = _as_children(ws.good_stack(3), parent_type, parent)
    assert session.judge(good) == []
    bad = _as_children(MANDATORY_MUTATIONS[0].make(ws.good_stack(3)), parent_type, parent)
    [blocking] = _mandatory(session.judge(bad))
    assert blocking.policy == "temporal-two-pollers-per-queue"
    assert blocking.urn.endswith(
        "$kubernetes:autoscaling/v2:HorizontalPodAutoscaler::workers:temporal-workers/billing-worker"
    )


def _auto_named(stack: list[StackResource], hpa_target: str) -> list[StackResource]:
    stack = ws.mutate(
        stack,
        ws.DEPLOYMENT,
        "billing-worker",
        lambda p: p["metadata"].__setitem__("name", "billing-worker-5f3a9c1e"),
    )
    return ws.mutate(
        stack,
        ws.HPA,
        "billing-worker",
        lambda p: p["spec"]["scaleTargetRef"].__setitem__("name", hpa_target),
    )


def test_autoscalers_match_the_final_auto_generated_name(session: AnalyzerSession) -> None:
    assert _mandatory(session.judge(_auto_named(ws.good_stack(3), "billing-worker-5f3a9c1e"))) == []
    # An HPA pointing at the Pulumi logical name scales nothing: the Deployment keeps 1 replica.
    [blocking] = _mandatory(session.judge(_auto_named(ws.good_stack(3), "billing-worker")))
    assert "(Deployment billing-worker-5f3a9c1e replicas absent, default 1)" in blocking.message


def test_unnamespaced_objects_use_the_providers_namespace(session: AnalyzerSession) -> None:
    def strip(p: dict[str, Any]) -> None:
        del p["metadata"]["namespace"]

    stack = [r for r in ws.good_stack(1)]
    stack = ws.mutate(stack, ws.DEPLOYMENT, "orders-worker", strip)
    stack = ws.mutate(stack, ws.HPA, "orders-worker", strip)
    stack = ws.mutate(stack, ws.PDB, "orders-worker", strip)
    provider = Provider(props={"namespace": ws.NAMESPACE})
    in_namespace = [StackResource(r.type, r.name, r.props, r.urn, provider=provider) for r in stack]
    assert session.judge(in_namespace) == []
    elsewhere = ws.mutate(
        stack, ws.HPA, "orders-worker", lambda p: p["metadata"].__setitem__("namespace", "other")
    )
    blocking = _mandatory(
        session.judge(
            [StackResource(r.type, r.name, r.props, r.urn, provider=provider) for r in elsewhere]
        )
    )
    assert [d.policy for d in blocking] == ["temporal-two-pollers-per-queue"]


def test_judge_resources_hook_starts_its_own_pack() -> None:
    stack = MANDATORY_MUTATIONS[4].make(ws.good_stack(2))
    triples = [(r.type, r.resolved_urn, r.props) for r in stack]
    diagnostics = judge_resources(triples)
    assert [(d.policy, d.urn.rsplit("::", 1)[-1]) for d in diagnostics] == [
        ("temporal-graceful-shutdown", "orders-worker")
    ]
    assert judge_resources(triples, config={"temporal-graceful-shutdown": "disabled"}) == []


@pytest.mark.parametrize(
    "cwd",
    [None, REPO_ROOT],
    ids=["engine: cwd policies/, program .", "repo root, program policies/"],
)
def test_the_pack_starts_both_ways_and_prints_its_port(cwd: Path | None) -> None:
    with fake_engine() as (engine, address):
        process = PackProcess(address, POLICY_PACK_DIR, cwd=cwd)
        session = AnalyzerSession(process.port)
        try:
            assert process.port > 0
            assert session.handshake(address) is False  # the Python SDK has no Handshake
            assert session.info().name == "temporal-workers"
        finally:
            session.close()
            process.stop()
        assert process.proc.returncode is not None
        assert engine.errors == []
