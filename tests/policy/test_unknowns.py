"""Unknown values (preview) never crash the pack and never produce a violation.

Every property path of a good stack's Deployment, HPA and PDB is made unknown in turn, wrapped in
the policy SDK's own unknown-checking proxy, and run through every policy's validate function.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from pulumi_policy import (
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from policies.temporal_policies import values
from policies.temporal_policies.pack import policies
from tests.support import worker_stacks as ws
from tests.support.analyzer_client import UNKNOWN, StackResource

pytestmark = pytest.mark.unit

POLICIES = policies()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if prefix:
        yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


def _with_unknown(props: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    out = copy.deepcopy(props)
    node = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = UNKNOWN
    return out


def _opts() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], None, [])  # type: ignore[arg-type]


def _violations(stack: list[StackResource]) -> list[str]:
    """Run every policy's validate on the stack as the SDK would (props behind its proxy)."""
    found: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        found.append(message)

    proxied = [(r, unknown_checking_proxy(copy.deepcopy(dict(r.props)))) for r in stack]
    for policy in POLICIES:
        if isinstance(policy, ResourceValidationPolicy):
            for r, props in proxied:
                args = ResourceValidationArgs(
                    r.type, props, r.resolved_urn, r.name, _opts(), None, {}
                )
                policy.validate(args, report)
        elif isinstance(policy, StackValidationPolicy):
            resources = [
                PolicyResource(r.type, props, r.resolved_urn, r.name, _opts(), None, None, [], {})
                for r, props in proxied
            ]
            policy.validate(StackValidationArgs(resources, {}), report)
    return found


def _cases() -> list[tuple[str, str, tuple[Any, ...]]]:
    base = ws.good_stack(2)
    cases = []
    for resource_type in (ws.DEPLOYMENT, ws.HPA, ws.PDB):
        target = ws.find(base, resource_type, "billing-worker")
        for path in _paths(dict(target.props)):
            cases.append((resource_type, "billing-worker", path))
    return cases


CASES = _cases()


def test_the_good_stack_passes_every_policy() -> None:
    assert _violations(ws.good_stack(2)) == []


@pytest.mark.parametrize(
    ("resource_type", "name", "path"),
    CASES,
    ids=[f"{t.rsplit(':', 1)[1]}.{'.'.join(map(str, p))}" for t, _, p in CASES],
)
def test_an_unknown_value_anywhere_produces_no_violation(
    resource_type: str, name: str, path: tuple[Any, ...]
) -> None:
    stack = ws.mutate(
        ws.good_stack(2),
        resource_type,
        name,
        lambda props: props.update(_with_unknown(props, path)),
    )
    assert _violations(stack) == []


def test_unknowns_in_a_bad_stack_add_no_violation_and_do_not_crash() -> None:
    bad = ws.mutate(
        ws.good_stack(1),
        ws.DEPLOYMENT,
        "orders-worker",
        lambda p: p["spec"]["template"]["spec"]["containers"][0].pop("lifecycle"),
    )
    target = ws.find(bad, ws.DEPLOYMENT, "orders-worker")
    for path in _paths(dict(target.props)):

        def make_unknown(props: dict[str, Any], path: tuple[Any, ...] = path) -> None:
            props.update(_with_unknown(props, path))

        stack = ws.mutate(bad, ws.DEPLOYMENT, "orders-worker", make_unknown)
        # Unknowns may hide the one real problem, never add another.
        for message in _violations(stack):
            assert message.startswith('Deployment orders-worker (queue "orders"): container "'), (
                path
            )
            assert "has no preStop hook" in message, (path, message)


def test_materialize_turns_proxy_unknowns_into_the_sentinel() -> None:
    proxy = unknown_checking_proxy({"a": {"b": [1.0, UNKNOWN]}, "c": UNKNOWN})
    plain = values.materialize(proxy)
    assert plain == {"a": {"b": [1.0, values.UNKNOWN]}, "c": values.UNKNOWN}
    assert values.get(plain, "c", "d") is values.UNKNOWN
    assert values.get(plain, "a", "x") is None


@pytest.mark.parametrize(
    ("raw", "as_int", "as_number"),
    [
        (2.0, 2, 2.0),
        (2.5, None, 2.5),
        ("30", 30, 30.0),
        ("thirty", None, None),
        (True, None, None),
        (UNKNOWN, None, None),
        (None, None, None),
    ],
)
def test_number_readers(raw: object, as_int: int | None, as_number: float | None) -> None:
    assert values.as_int(raw) == as_int
    assert values.as_number(raw) == as_number
