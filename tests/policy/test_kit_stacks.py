"""The stacks the kit's own Pulumi program produces, judged by the pack over its protocol.

Each `Pulumi.<stack>.yaml` is run through `infra/__main__.py` under Pulumi mocks (the infra tier's
harness); every registered resource then goes to the pack as the engine would send it. They must
pass every mandatory policy, and a broken variant must not.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.infra.harness import (
    Registration,
    mocks_reset,
    run_program,
    stack_file_config,
    stack_files,
)
from tests.support.analyzer_client import (
    AnalyzerSession,
    Diagnostic,
    PolicyPackRun,
    Provider,
    StackResource,
    policy_pack,
    urn_for,
)

pytestmark = pytest.mark.policy

HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"


def kit_stack(stack: str) -> list[StackResource]:
    """The resources the kit's program registers for `Pulumi.<stack>.yaml`, as StackResources."""
    try:
        run = run_program(stack_file_config(stack), stack=stack)
    finally:
        mocks_reset()
    return from_registrations(run.registrations, stack)


def from_registrations(registrations: list[Registration], stack: str) -> list[StackResource]:
    """Registrations (type, name, inputs, provider reference) -> what the engine sends analyzers."""
    providers = {
        urn_for(r.typ, r.name, stack=stack): r
        for r in registrations
        if r.typ.startswith("pulumi:providers:")
    }
    resources = []
    for r in registrations:
        provider = None
        provider_urn = r.provider.rpartition("::")[0] if r.provider else ""
        if provider_urn in providers:
            p = providers[provider_urn]
            provider = Provider(urn=provider_urn, type=p.typ, name=p.name, props=p.inputs)
        resources.append(
            StackResource(
                type=r.typ,
                name=r.name,
                props=r.inputs,
                urn=urn_for(r.typ, r.name, stack=stack),
                provider=provider,
            )
        )
    return resources


@pytest.fixture(scope="module")
def pack() -> Iterator[PolicyPackRun]:
    with policy_pack() as run:
        yield run


@pytest.fixture
def session(pack: PolicyPackRun) -> AnalyzerSession:
    pack.session.configure(None)
    return pack.session


def _mandatory(diagnostics: list[Diagnostic]) -> list[str]:
    return [f"{d.policy}: {d.message}" for d in diagnostics if d.mandatory]


@pytest.mark.parametrize("stack", stack_files())
def test_every_stack_file_passes_every_mandatory_policy(
    session: AnalyzerSession, stack: str
) -> None:
    resources = kit_stack(stack)
    assert any(r.type == "kubernetes:apps/v1:Deployment" for r in resources)
    assert _mandatory(session.judge(resources)) == []


def test_a_broken_kit_stack_is_rejected(session: AnalyzerSession) -> None:
    resources = kit_stack("prod")
    hpas = [r for r in resources if r.type == HPA]
    assert hpas, "the prod stack autoscales its queues"
    victim = hpas[0]
    props: dict[str, Any] = {**victim.props, "spec": {**victim.props["spec"], "minReplicas": 1.0}}
    broken = [
        StackResource(r.type, r.name, props, r.urn, provider=r.provider) if r is victim else r
        for r in resources
    ]
    blocking = _mandatory(session.judge(broken))
    assert len(blocking) == 1
    assert blocking[0].startswith("temporal-two-pollers-per-queue: queue ")
    assert "minReplicas=1); set minReplicas >= 2" in blocking[0]
