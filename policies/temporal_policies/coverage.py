"""Stack-wide advisory rules: a PDB for every queue, and calm HPA scale-down for workers."""

from __future__ import annotations

from .findings import Finding
from .scaling import HPA_DEFAULT_SCALE_DOWN_WINDOW, Match
from .stack import Stack
from .values import as_number, fmt_number, get, is_unknown
from .workloads import QUEUE_LABEL


def check_pdb_per_queue(stack: Stack) -> list[Finding]:
    """Every worker workload's pods are selected by some PodDisruptionBudget."""
    findings = []
    for workload in stack.workloads:
        if not workload.certain:
            continue
        if stack.budgets_of(workload):
            continue  # selected, or maybe selected, by some PDB
        label = f"{QUEUE_LABEL}={workload.queues[0]}" if workload.queues else "its pod labels"
        findings.append(
            Finding(
                f"{workload.display}: no PodDisruptionBudget selects its pods; add one with "
                f"maxUnavailable=1 selecting {label}",
                workload.resource.urn,
            )
        )
    return findings


def check_scale_down_stabilization(stack: Stack, min_window: float = 300.0) -> list[Finding]:
    """Autoscalers of workers wait `min_window` seconds before scaling down (HPA default 300)."""
    findings = []
    for scaler in stack.autoscalers:
        targets = [w for w, match in stack.scaled_by(scaler) if w.certain and match is Match.YES]
        if not targets:
            continue
        behavior = scaler.scale_down_behavior
        window = get(behavior, "stabilizationWindowSeconds")
        policy = get(behavior, "selectPolicy")
        if is_unknown(window) or is_unknown(policy) or policy == "Disabled":
            continue
        seconds = HPA_DEFAULT_SCALE_DOWN_WINDOW if window is None else as_number(window)
        if seconds is None or seconds >= min_window:
            continue
        queues = sorted({q for w in targets for q in w.queues})
        about = " (queue " + ", ".join(f'"{queue}"' for queue in queues) + ")"
        field = (
            "behavior.scaleDown"
            if scaler.label == "HPA"
            else "advanced.horizontalPodAutoscalerConfig.behavior.scaleDown"
        )
        findings.append(
            Finding(
                f"{scaler.display}{about if queues else ''}: {field}.stabilizationWindowSeconds="
                f"{fmt_number(seconds)}; set it >= {fmt_number(min_window)} so short dips "
                "do not drain workers",
                scaler.resource.urn,
            )
        )
    return findings
