"""The parts of a stack the queue rules look at, and which of them apply to which workload.

Relations are computed once per stack with indexes (autoscalers by target, budgets by a label
pair), so judging a stack stays linear in its size; anything with an unknown value is compared
the slow, three-valued way.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .resources import Resource, api_group
from .scaling import Autoscaler, Budget, Match, autoscaler, budget
from .values import as_dict, get, is_unknown
from .workloads import Workload, worker_workload

# The type tokens worth materializing for stack rules (everything else is skipped cheaply).
RELEVANT_KINDS = frozenset(
    {
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("keda.sh", "ScaledObject"),
        ("policy", "PodDisruptionBudget"),
    }
)


def is_relevant_type(type_token: str) -> bool:
    """True for the types stack rules read (workloads, HPAs, ScaledObjects, PDBs)."""
    parts = type_token.split(":")
    return len(parts) == 3 and (api_group(parts[1]), parts[2]) in RELEVANT_KINDS


def _known(*values: Any) -> bool:
    return all(isinstance(v, str) and not is_unknown(v) for v in values)


def _plain_labels(selector: Any) -> list[tuple[str, str]] | None:
    """The (key, value) pairs of a matchLabels-only selector; None if it is not that plain."""
    if not isinstance(selector, dict) or get(selector, "matchExpressions"):
        return None
    labels = get(selector, "matchLabels")
    if not isinstance(labels, dict) or not labels:
        return None
    pairs = list(labels.items())
    return pairs if all(_known(key, value) for key, value in pairs) else None


@dataclass(frozen=True)
class Stack:
    """Worker workloads (certain or possible), autoscalers, budgets, and who applies to whom."""

    workloads: tuple[Workload, ...]
    autoscalers: tuple[Autoscaler, ...]
    budgets: tuple[Budget, ...]
    _scalers: dict[int, list[tuple[Autoscaler, Match]]] = field(default_factory=dict)
    _budgets: dict[int, list[tuple[Budget, Match]]] = field(default_factory=dict)
    _selected: dict[int, list[tuple[Workload, Match]]] = field(default_factory=dict)
    _scaled: dict[int, list[tuple[Workload, Match]]] = field(default_factory=dict)

    @classmethod
    def of(cls, resources: Iterable[Resource]) -> Stack:
        """Sort the stack's resources into the three views and relate them."""
        workloads: list[Workload] = []
        autoscalers: list[Autoscaler] = []
        budgets: list[Budget] = []
        for resource in resources:
            if (workload := worker_workload(resource)) is not None:
                workloads.append(workload)
            elif (scaler := autoscaler(resource)) is not None:
                autoscalers.append(scaler)
            elif (pdb := budget(resource)) is not None:
                budgets.append(pdb)
        stack = cls(tuple(workloads), tuple(autoscalers), tuple(budgets))
        stack._relate()
        return stack

    def _relate(self) -> None:
        by_target: dict[tuple[str, str, str], list[Autoscaler]] = defaultdict(list)
        loose_scalers: list[Autoscaler] = []
        for scaler in self.autoscalers:
            key = (scaler.resource.namespace, scaler.target_kind, scaler.target_name)
            if _known(*key):
                by_target[key].append(scaler)
            elif scaler.target_kind is not None and scaler.target_name is not None:
                loose_scalers.append(scaler)
        # Index each plain selector under its rarest label pair: a pod it selects carries that pair.
        plain = [(pdb, _plain_labels(pdb.selector)) for pdb in self.budgets]
        frequency = Counter(pair for _, pairs in plain for pair in pairs or [])
        by_label: dict[tuple[str, str], list[Budget]] = defaultdict(list)
        loose_budgets: list[Budget] = []
        for pdb, pairs in plain:
            if pairs is None:
                loose_budgets.append(pdb)
            else:
                by_label[min(pairs, key=lambda pair: frequency[pair])].append(pdb)
        for workload in self.workloads:
            resource = workload.resource
            key = (resource.namespace, workload.kind, resource.object_name)
            candidates = (
                by_target.get(key, []) + loose_scalers if _known(*key) else list(self.autoscalers)
            )
            for scaler in candidates:
                if (match := scaler.targets(workload)) is not Match.NO:
                    self._scalers.setdefault(id(workload), []).append((scaler, match))
                    self._scaled.setdefault(id(scaler), []).append((workload, match))
            labels = workload.pod_labels
            if is_unknown(labels) or any(is_unknown(v) for v in as_dict(labels).values()):
                pdbs = list(self.budgets)
            else:
                pdbs = list(loose_budgets)
                for pair in as_dict(workload.pod_labels).items():
                    if isinstance(pair[1], str) and pair in by_label:
                        pdbs += by_label[pair]
            for pdb in pdbs:
                if (match := pdb.selects(workload)) is not Match.NO:
                    self._budgets.setdefault(id(workload), []).append((pdb, match))
                    self._selected.setdefault(id(pdb), []).append((workload, match))

    def scalers_of(self, workload: Workload) -> list[tuple[Autoscaler, Match]]:
        """Autoscalers that do (YES) or may (MAYBE) scale the workload."""
        return self._scalers.get(id(workload), [])

    def budgets_of(self, workload: Workload) -> list[tuple[Budget, Match]]:
        """PDBs that do (YES) or may (MAYBE) select the workload's pods."""
        return self._budgets.get(id(workload), [])

    def selected_by(self, pdb: Budget) -> list[tuple[Workload, Match]]:
        """Workloads whose pods the PDB does or may select."""
        return self._selected.get(id(pdb), [])

    def scaled_by(self, scaler: Autoscaler) -> list[tuple[Workload, Match]]:
        """Workloads the autoscaler does or may scale."""
        return self._scaled.get(id(scaler), [])
