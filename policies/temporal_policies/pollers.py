"""`temporal-two-pollers-per-queue`: every task queue keeps enough guaranteed pollers.

A workload guarantees `spec.replicas` pods (absent: 1) unless an autoscaler targets it; then the
HPA's `minReplicas` (absent: 1) or the KEDA ScaledObject's `minReplicaCount` (absent: KEDA's 0).
Pollers are counted per (queue, version): with Worker Versioning each build polls only for its own
version (build id from TEMPORAL_WORKER_BUILD_ID or the `temporal.io/build-id` label), so versions
never add up. Every version needs the minimum; a version the stack marks drained or inactive may
sit at 0 (its sunset), never at 1; a queue whose every version sits at 0 has no poller at all.
A PodDisruptionBudget that lets every guaranteed poller of a version be evicted at once is a
violation too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from .findings import Finding
from .scaling import Autoscaler, Budget, Match
from .stack import Stack
from .values import get, is_unknown
from .workloads import SUNSET_ROLES, Workload


@dataclass(frozen=True)
class Contribution:
    """The pollers one workload guarantees, and where that number comes from."""

    workload: Workload
    count: int | None  # None: not known now (preview) or malformed
    source: str  # e.g. "HPA billing-worker minReplicas=1"
    field: str  # the field to raise: replicas, minReplicas or minReplicaCount
    fix_urn: str  # the resource that holds that field


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _scaler_contribution(workload: Workload, scaler: Autoscaler) -> Contribution:
    value = scaler.min_replicas
    count = value if isinstance(value, int) and not is_unknown(value) else None
    if scaler.min_explicit:
        source = f"{scaler.display} {scaler.min_field}={value}"
    else:
        origin = "KEDA default" if scaler.label == "ScaledObject" else "default"
        source = f"{scaler.display} {scaler.min_field} absent, {origin} {value}"
    return Contribution(workload, count, source, scaler.min_field, scaler.resource.urn)


def contribution(workload: Workload, stack: Stack) -> Contribution:
    """The guaranteed pollers of one workload: its autoscaler's floor, else its replicas."""
    matches = stack.scalers_of(workload)
    certain = [scaler for scaler, match in matches if match is Match.YES]
    if certain:
        known = [s for s in certain if isinstance(s.min_replicas, int)]
        if len(known) < len(certain):
            return _scaler_contribution(workload, next(s for s in certain if s not in known))
        return _scaler_contribution(workload, min(known, key=lambda s: int(s.min_replicas)))
    resource = workload.resource
    if any(match is Match.MAYBE for _, match in matches):
        return Contribution(workload, None, f"{resource.display} (autoscaler unknown)", "", "")
    replicas = workload.replicas
    count = replicas if isinstance(replicas, int) else None
    has_field = get(resource.props, "spec", "replicas") is not None
    if has_field:
        source = f"{resource.display} replicas={replicas}"
    else:
        source = f"{resource.display} replicas absent, default 1"
    return Contribution(workload, count, source, "replicas", resource.urn)


def _shortfall(subject: str, parts: list[Contribution], total: int, minimum: int) -> Finding:
    """The message for a queue with fewer than `minimum` guaranteed pollers."""
    sources = ", ".join(part.source for part in parts)
    head = f"{subject}: {_plural(total, 'guaranteed poller')} ({sources})"
    if len(parts) == 1:
        part = parts[0]
        fix = f"set {part.field} >= {minimum}"
        if part.field == "replicas":
            fix += f" (or target it with an HPA whose minReplicas >= {minimum})"
        return Finding(f"{head}; {fix}", part.fix_urn)
    fields = "/".join(dict.fromkeys(part.field for part in parts))
    return Finding(f"{head}; raise {fields} so they add up to >= {minimum}", parts[0].fix_urn)


def _budget_finding(
    subject: str, parts: list[Contribution], stack: Stack, counts: dict[int, int]
) -> Finding | None:
    """A finding when the queue's PDBs together let all its guaranteed pollers be evicted."""
    total = sum(part.count or 0 for part in parts)
    if total < 1:
        return None  # already short of pollers; the shortfall message says so
    covering: dict[int, list[Contribution]] = defaultdict(list)
    for part in parts:
        selecting = stack.budgets_of(part.workload)
        if any(match is Match.MAYBE for _, match in selecting):
            return None
        chosen = [b for b, match in selecting if match is Match.YES]
        if len(chosen) == 1:  # with two or more PDBs the eviction API refuses to evict the pod
            covering[id(chosen[0])].append(part)
    evicted: list[tuple[Budget, int, int, int]] = []  # budget, allowed, expected, queue pods
    for budget in stack.budgets:
        mine = covering.get(id(budget))
        if not mine:
            continue
        expected = 0
        for workload, match in stack.selected_by(budget):
            if match is Match.MAYBE or id(workload) not in counts:
                return None  # the budget's pod count, hence its allowance, is not known
            expected += counts[id(workload)]
        allowed = budget.disruptions_allowed(expected)
        if allowed is None:
            return None
        queue_pods = sum(part.count or 0 for part in mine)
        evicted.append((budget, allowed, expected, min(allowed, queue_pods)))
    lost = sum(item[3] for item in evicted)
    if total - lost >= 1:
        return None
    excess = lost - (total - 1)
    names = ", ".join(f"{b.display} ({b.setting})" for b, _, _, lost_here in evicted if lost_here)
    head = f"{subject}: {names} lets all {_plural(total, 'guaranteed poller')} be evicted at once"
    if len(evicted) == 1:
        budget, allowed, expected, _ = evicted[0]
        if budget.max_unavailable is not None and not isinstance(budget.max_unavailable, str):
            return Finding(f"{head}; set maxUnavailable <= {allowed - excess}", budget.resource.urn)
        keep = expected - (allowed - excess)
        fix = f"set minAvailable >= {keep} (or maxUnavailable=1)"
        return Finding(f"{head}; {fix}", budget.resource.urn)
    return Finding(f"{head}; tighten them so at least 1 poller stays", evicted[0][0].resource.urn)


def check_pollers(stack: Stack, min_pollers: int = 2) -> list[Finding]:
    """Findings for queues with fewer than `min_pollers` guaranteed pollers or a loose PDB.

    Queues whose count depends on a value unknown during preview are not judged.
    """
    parts = [contribution(workload, stack) for workload in stack.workloads]
    floating = any(p.workload.queue_unknown and (p.count is None or p.count > 0) for p in parts)
    if floating:
        return []  # a worker of unknown queue could be any queue's missing poller
    counts = {id(p.workload): p.count for p in parts if p.count is not None}
    groups: dict[tuple[str, str | None], list[Contribution]] = defaultdict(list)
    for part in parts:
        if is_unknown(part.workload.version):
            continue  # its version shows once known; it cannot be counted towards another
        for queue in part.workload.queues:
            groups[(queue, part.workload.version)].append(part)
    findings: list[Finding] = []
    zero_versions: dict[str, list[str]] = defaultdict(list)
    serving_queues: set[str] = set()
    for queue, version in sorted(groups, key=lambda key: (key[0], key[1] or "")):
        group = groups[(queue, version)]
        if any(part.count is None for part in group):
            serving_queues.add(queue)
            continue
        total = sum(part.count or 0 for part in group)
        label = f'queue "{queue}"' + (f' version "{version}"' if version is not None else "")
        sunset = version is not None and all(
            part.workload.version_role in SUNSET_ROLES for part in group
        )
        if total == 0 and sunset:
            zero_versions[queue].append(version or "")
            continue
        serving_queues.add(queue)
        if total < min_pollers:
            findings.append(_shortfall(label, group, total, min_pollers))
        elif (finding := _budget_finding(label, group, stack, counts)) is not None:
            findings.append(finding)
    for queue, versions in sorted(zero_versions.items()):
        if queue not in serving_queues:
            first = groups[(queue, versions[0])][0]
            findings.append(
                Finding(
                    f'queue "{queue}": every version ({", ".join(versions)}) is scaled to 0, '
                    f"no poller serves it; keep one version at >= {min_pollers} pollers",
                    first.fix_urn,
                )
            )
    return findings
