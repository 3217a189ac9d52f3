"""Which builds of a queue the program declares, and how: a pure function of what it observed.

Inputs: the target build, the queue's live Deployments (the ledger: what runs, with the image each
build runs), Temporal's view of the Worker Deployment and the time. Output: one `BuildPlan` per
build to declare, the builds whose versions Temporal should delete, and notes for the `up` log.
A build is never dropped unless Temporal says it is drained and its workers have been gone longer
than the delete delay; when Temporal's view is missing, every live build is kept as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from infra.versions.temporal_api import DeploymentSnapshot

POLLER_HISTORY = timedelta(seconds=301)
"""Temporal refuses to delete a version that polled within its PollerHistoryTTL (5 min)."""

Phase = str
SERVING: Phase = "serving"  # autoscaler and replica floor as configured (>= 2 pollers)
SCALED_DOWN: Phase = "scaled-down"  # drained past scaledownDelay: no autoscaler, replicas 0


@dataclass(frozen=True)
class LiveBuild:
    """A versioned Deployment of the queue found in the cluster."""

    build_id: str
    image: str
    scaled_down_at: datetime | None = None  # when the program scaled it to 0 (annotation)
    role: str | None = None  # the role it was last rendered with (annotation)


@dataclass(frozen=True)
class BuildPlan:
    """One build to declare."""

    build_id: str
    image: str
    phase: Phase
    role: str  # target | current | ramping | draining | drained | inactive | unknown
    scaled_down_at: datetime | None = None


@dataclass
class QueuePlan:
    """Everything the program declares for one queue's versions."""

    builds: list[BuildPlan]
    retire: list[str] = field(default_factory=list)  # delete in Temporal, then drop the Deployment
    keep_unversioned: bool = False
    promote: bool = False  # routing must change: the rollout resource runs this `up`
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Delays:
    """The sunset timeline (versioning.sunset)."""

    scaledown: timedelta
    delete: timedelta


def plan_queue(
    target: str,
    live: list[LiveBuild],
    snapshot: DeploymentSnapshot | None,
    temporal_known: bool,
    now: datetime,
    delays: Delays,
    strategy: str = "allAtOnce",
    unversioned_live: bool = False,
    unversioned_backlog: int | None = None,
) -> QueuePlan:
    """Plan the builds of one queue (see the module doc for the rules)."""
    # The target's image is the stack's own (an output of the image resource): set by the caller.
    plan = QueuePlan(builds=[BuildPlan(target, "", SERVING, "target")])
    for build in live:
        if build.build_id == target:
            continue
        if not temporal_known:  # kept exactly as it was last rendered
            phase = SCALED_DOWN if build.scaled_down_at else SERVING
            role = build.role or "unknown"
            plan.builds.append(
                BuildPlan(build.build_id, build.image, phase, role, build.scaled_down_at)
            )
            continue
        status = snapshot.status_of(build.build_id) if snapshot else None
        if status is None:
            # Temporal has no such version: it never polled, or its deletion already went
            # through. Nothing can be pinned to it, so only its Deployment remains to remove.
            plan.notes.append(f"build {build.build_id}: unknown to Temporal, Deployment removed")
            continue
        if status in ("current", "ramping", "draining"):
            plan.builds.append(BuildPlan(build.build_id, build.image, SERVING, status))
            continue
        drained_since = None
        if status == "drained" and snapshot is not None:
            drained_since = snapshot.versions[build.build_id].drained_since
        # Inactive (never routed to, or superseded before it served): nothing pinned can run on
        # it, so its sunset starts at once, as temporal-worker-controller does.
        if drained_since is not None and now - drained_since < delays.scaledown:
            plan.builds.append(BuildPlan(build.build_id, build.image, SERVING, status))
            continue
        scaled_at = build.scaled_down_at or now
        if now - scaled_at >= max(delays.delete, POLLER_HISTORY):
            plan.retire.append(build.build_id)
            continue
        plan.builds.append(BuildPlan(build.build_id, build.image, SCALED_DOWN, status, scaled_at))
    current = snapshot.current if snapshot is not None else None
    if current and current != target and all(b.build_id != current for b in plan.builds):
        plan.notes.append(
            f"current version {current} has no Deployment in this stack; "
            "its pollers come from elsewhere"
        )
    settled = snapshot is not None and snapshot.current == target and snapshot.ramping is None
    plan.promote = temporal_known and not settled
    if strategy == "manual" and snapshot is not None and snapshot.current is not None:
        plan.promote = plan.promote and snapshot.versions.get(target) is None
    if unversioned_live:
        drained = settled and unversioned_backlog == 0
        plan.keep_unversioned = not (temporal_known and drained)
        if plan.keep_unversioned and temporal_known and settled:
            plan.notes.append(
                f"unversioned workers kept: {unversioned_backlog} task(s) still wait for them"
            )
    return plan
