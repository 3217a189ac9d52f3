"""Autoscalers (HPA, KEDA ScaledObject) and PodDisruptionBudgets, and what they apply to.

Matching is three-valued: a target is `YES`, `NO`, or `MAYBE` when an unknown value (preview) could
make it either; rules only judge what is certain.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

from .resources import Resource, api_group
from .values import UNKNOWN, as_dict, as_list, get, is_unknown
from .workloads import Workload

HPA_DEFAULT_MIN = 1
KEDA_DEFAULT_MIN = 0
HPA_DEFAULT_SCALE_DOWN_WINDOW = 300


class Match(enum.Enum):
    """Whether an autoscaler or budget applies to a workload."""

    YES = "yes"
    NO = "no"
    MAYBE = "maybe"


def _both(a: Match, b: Match) -> Match:
    """Three-valued AND."""
    if Match.NO in (a, b):
        return Match.NO
    return Match.MAYBE if Match.MAYBE in (a, b) else Match.YES


def _equal(a: Any, b: Any) -> Match:
    """Three-valued equality of two values that may be unknown."""
    if is_unknown(a) or is_unknown(b):
        return Match.MAYBE
    return Match.YES if a == b else Match.NO


@dataclass(frozen=True)
class Autoscaler:
    """An HPA or a KEDA ScaledObject: its target and the replica floor it guarantees."""

    resource: Resource
    label: str  # "HPA" or "ScaledObject"
    min_field: str  # "minReplicas" or "minReplicaCount"
    min_replicas: Any  # int, UNKNOWN, or None when malformed
    min_explicit: bool
    target_kind: Any
    target_name: Any

    @property
    def display(self) -> str:
        """`HPA billing-worker`."""
        name = self.resource.object_name
        return f"{self.label} {name if isinstance(name, str) else self.resource.name}"

    def targets(self, workload: Workload) -> Match:
        """Whether this autoscaler scales `workload` (same namespace, kind and name)."""
        if self.target_kind is None or self.target_name is None:
            return Match.NO
        match = _equal(self.resource.namespace, workload.resource.namespace)
        match = _both(match, _equal(self.target_kind, workload.kind))
        return _both(match, _equal(self.target_name, workload.resource.object_name))

    @property
    def scale_down_behavior(self) -> Any:
        """The HPA `behavior.scaleDown` dict the autoscaler sets (KEDA: under `advanced`)."""
        if self.label == "HPA":
            return get(self.resource.props, "spec", "behavior", "scaleDown")
        return get(
            self.resource.props,
            "spec",
            "advanced",
            "horizontalPodAutoscalerConfig",
            "behavior",
            "scaleDown",
        )


def _count_or_unknown(value: Any, default: int) -> tuple[Any, bool]:
    """(count, explicit): an integral count from a float; the default when absent."""
    if value is None:
        return default, False
    if is_unknown(value):
        return UNKNOWN, True
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and float(value).is_integer()
        and value >= 0
    ):
        return int(value), True
    return None, True


def autoscaler(resource: Resource) -> Autoscaler | None:
    """The autoscaler view of an HPA (any autoscaling version) or KEDA ScaledObject, else None."""
    group, kind = api_group(resource.api_version), resource.kind
    ref = get(resource.props, "spec", "scaleTargetRef")
    if group == "autoscaling" and kind == "HorizontalPodAutoscaler":
        label, field, default = "HPA", "minReplicas", HPA_DEFAULT_MIN
        target_kind = UNKNOWN if is_unknown(ref) else get(ref, "kind")
    elif group == "keda.sh" and kind == "ScaledObject":
        label, field, default = "ScaledObject", "minReplicaCount", KEDA_DEFAULT_MIN
        target_kind = UNKNOWN if is_unknown(ref) else (get(ref, "kind") or "Deployment")
    else:
        return None
    target_name = UNKNOWN if is_unknown(ref) else get(ref, "name")
    minimum, explicit = _count_or_unknown(get(resource.props, "spec", field), default)
    spec = get(resource.props, "spec")
    if is_unknown(spec):
        minimum, target_kind, target_name = UNKNOWN, UNKNOWN, UNKNOWN
    return Autoscaler(
        resource=resource,
        label=label,
        min_field=field,
        min_replicas=minimum,
        min_explicit=explicit,
        target_kind=target_kind,
        target_name=target_name,
    )


@dataclass(frozen=True)
class Budget:
    """A PodDisruptionBudget: its selector and how many pods it lets go at once."""

    resource: Resource
    selector: Any  # dict, None (selects nothing) or UNKNOWN
    min_available: Any  # int, "NN%", None or UNKNOWN
    max_unavailable: Any

    @property
    def display(self) -> str:
        """`PDB billing-worker`."""
        name = self.resource.object_name
        return f"PDB {name if isinstance(name, str) else self.resource.name}"

    @property
    def setting(self) -> str:
        """`maxUnavailable=1` or `minAvailable=50%`: the field as written."""
        if self.max_unavailable is not None:
            return f"maxUnavailable={_show(self.max_unavailable)}"
        return f"minAvailable={_show(self.min_available)}"

    def selects(self, workload: Workload) -> Match:
        """Whether the budget's selector picks the workload's pods (same namespace)."""
        match = _equal(self.resource.namespace, workload.resource.namespace)
        if match is Match.NO:
            return Match.NO
        return _both(match, selector_matches(self.selector, workload.pod_labels))

    def disruptions_allowed(self, expected: int) -> int | None:
        """Pods it lets be evicted at once when `expected` pods are healthy; None if unknown.

        Percentages round up, as the disruption controller does.
        """
        if self.max_unavailable is not None:
            allowed = _amount(self.max_unavailable, expected)
            return None if allowed is None else max(0, min(expected, allowed))
        if self.min_available is not None:
            keep = _amount(self.min_available, expected)
            return None if keep is None else max(0, expected - keep)
        return None


def _show(value: Any) -> str:
    """An IntOrString as written in a manifest."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _amount(value: Any, total: int) -> int | None:
    """An IntOrString amount of `total` pods: `2.0` is 2, `"50%"` of 3 is 2; None if unknown."""
    if is_unknown(value) or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value) if float(value).is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%") and text[:-1].isdigit():
            return math.ceil(int(text[:-1]) * total / 100)
        if text.isdigit():
            return int(text)
    return None


def budget(resource: Resource) -> Budget | None:
    """The budget view of a PodDisruptionBudget (any policy API version), else None."""
    if api_group(resource.api_version) != "policy" or resource.kind != "PodDisruptionBudget":
        return None
    spec = get(resource.props, "spec")
    if is_unknown(spec):
        return Budget(resource, UNKNOWN, UNKNOWN, None)
    return Budget(
        resource=resource,
        selector=get(spec, "selector"),
        min_available=get(spec, "minAvailable"),
        max_unavailable=get(spec, "maxUnavailable"),
    )


def _expression_matches(expression: Any, labels: dict[str, Any]) -> Match:
    """One `matchExpressions` entry against known labels."""
    if not isinstance(expression, dict):
        return Match.MAYBE if is_unknown(expression) else Match.NO
    key, operator = expression.get("key"), expression.get("operator")
    values = expression.get("values")
    if is_unknown(key) or is_unknown(operator) or is_unknown(values):
        return Match.MAYBE
    value = labels.get(key) if isinstance(key, str) else None
    if is_unknown(value):
        return Match.MAYBE
    options = as_list(values)
    if any(is_unknown(option) for option in options):
        return Match.MAYBE
    results = {
        "In": value is not None and value in options,
        "NotIn": value is None or value not in options,
        "Exists": key in labels,
        "DoesNotExist": key not in labels,
    }
    if operator not in results:
        return Match.NO
    return Match.YES if results[operator] else Match.NO


def selector_matches(selector: Any, labels: Any) -> Match:
    """A LabelSelector against pod labels; an empty selector picks every pod, a null one none."""
    if is_unknown(selector) or is_unknown(labels):
        return Match.MAYBE
    if selector is None or not isinstance(selector, dict):
        return Match.NO
    labels = as_dict(labels)
    match_labels = get(selector, "matchLabels")
    if is_unknown(match_labels):
        return Match.MAYBE
    result = Match.YES
    for key, wanted in as_dict(match_labels).items():
        result = _both(result, _equal(wanted, labels.get(key)))
    expressions = get(selector, "matchExpressions")
    if is_unknown(expressions):
        return _both(result, Match.MAYBE)
    for expression in as_list(expressions):
        result = _both(result, _expression_matches(expression, labels))
    return result
