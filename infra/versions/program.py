"""The program's versioned path: observations + settings -> the builds and rollout of each queue.

Pure apart from its inputs (the observer ran before), so the mock tier drives it with a faked view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pulumi

from infra.errors import ConfigError
from infra.settings import QueueSettings, SecretValue, StackSettings
from infra.specs.queue import BuildWorkers
from infra.specs.release import Release
from infra.stack_config import USER_ACTIONABLE_EXIT_CODE
from infra.versions.build_id import digest_of
from infra.versions.observe import OBSERVER, ObserveError, QueueObservation, control_connection
from infra.versions.plan import SERVING, Delays, QueuePlan, plan_queue


class VersioningError(Exception):
    """The versioned path cannot go on safely; one line, nothing is registered."""


@dataclass
class QueueVersions:
    """What the program registers for one versioned queue."""

    builds: list[BuildWorkers]  # the target's image is filled in by `with_target_image`
    rollout: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def with_target_image(self, image: pulumi.Input[str]) -> list[BuildWorkers]:
        """The builds, the target running `image` (known once the image resource exists)."""
        return [
            BuildWorkers(image, b.release)
            if b.release is not None and b.release.role == "target"
            else b
            for b in self.builds
        ]


def check_build_id(settings: StackSettings, target: str, observation: QueueObservation) -> None:
    """An explicit image.buildId must not be reused for a prebuilt image with another digest."""
    image = settings.image
    if image.build_id is None or image.source != "prebuilt" or image.ref is None:
        return
    for build in observation.live:
        if build.build_id == target and digest_of(build.image) != digest_of(image.ref):
            raise ConfigError(
                "image.buildId",
                f"{target!r} already runs image {digest_of(build.image)} in this stack, but "
                f"image.ref now names {digest_of(image.ref)}: new code needs a new version "
                "(change image.buildId, or remove it to derive the build id from the digest)",
            )


def queue_versions(
    settings: StackSettings,
    queue: QueueSettings,
    target: str,
    observation: QueueObservation,
    now: datetime,
    dry_run: bool,
) -> QueueVersions:
    """Plan one queue; raise VersioningError when `up` cannot read Temporal (nothing is removed)."""
    versioning = settings.versioning
    temporal_known = observation.temporal_error is None
    if not temporal_known and not dry_run:
        raise VersioningError(temporal_unknown(settings, str(observation.temporal_error), dry_run))
    check_build_id(settings, target, observation)
    plan = plan_queue(
        target,
        observation.live,
        observation.snapshot,
        temporal_known,
        now,
        Delays(
            scaledown=timedelta(seconds=versioning.scaledown_delay_seconds),
            delete=timedelta(seconds=versioning.delete_delay_seconds),
        ),
        strategy=versioning.strategy,
        unversioned_live=observation.unversioned_image is not None,
        unversioned_backlog=observation.backlog,
    )
    builds: list[BuildWorkers] = []
    for build in plan.builds:
        stamp = build.scaled_down_at.isoformat() if build.scaled_down_at else None
        release = Release(build.build_id, build.role, build.phase == SERVING, stamp)
        builds.append(BuildWorkers(build.image, release))
    if plan.keep_unversioned and observation.unversioned_image is not None:
        builds.append(BuildWorkers(observation.unversioned_image, None))
    # Registered even when Temporal's view is missing (preview): dropping it would show a delete.
    rollout = rollout_props(settings, queue, target, plan)
    return QueueVersions(builds, rollout, plan.notes)


def temporal_unknown(settings: StackSettings, reason: str, dry_run: bool) -> str:
    """The one line that says Temporal's view is missing, and what the program does about it."""
    where = settings.versioning.control_address or settings.temporal.address
    head = f"versioning: cannot read the Worker Deployments at {where}: {reason}"
    if dry_run:
        return f"{head}; preview keeps every live version as it is"
    return f"{head}; nothing was changed"


def rollout_props(
    settings: StackSettings, queue: QueueSettings, target: str, plan: QueuePlan
) -> dict[str, Any]:
    """The inputs of the queue's WorkerRollout resource."""
    versioning = settings.versioning
    conn = control_connection(settings)
    api_key = settings.temporal.api_key
    return {
        "address": conn.address,
        "namespace": conn.namespace,
        "tls": conn.tls,
        "serverName": conn.server_name or "",
        # Only a key from the stack's own secret config travels in state (as a secret); a key in
        # pulumi's environment is read again by the provider at each run.
        "apiKey": pulumi.Output.secret(api_key.value) if isinstance(api_key, SecretValue) else "",
        "deployment": queue.deployment_name,
        "queue": queue.task_queue,
        "target": target,
        "strategy": versioning.strategy,
        "rampSteps": [[s.percent, s.pause_seconds] for s in versioning.ramp_steps],
        "minPollers": versioning.min_pollers,
        "pollersTimeout": versioning.pollers_timeout_seconds,
        "routingTimeout": versioning.routing_timeout_seconds,
        "identity": versioning.identity,
        "gateWorkflow": versioning.gate.workflow_type if versioning.gate else "",
        "gateTimeout": versioning.gate.timeout_seconds if versioning.gate else 0,
        "retire": list(plan.retire),
        "pending": plan.promote or bool(plan.retire),
    }


def versioned_queues(
    settings: StackSettings,
    target: str,
    root: Path,
    now: datetime | None = None,
) -> dict[str, QueueVersions] | None:
    """Every queue's versions (None when versioning is off); notes go to the engine log."""
    if not settings.versioning.enabled:
        return None
    observations = OBSERVER[0](settings, root)
    moment = now or datetime.now(UTC)
    dry_run = pulumi.runtime.is_dry_run()
    result: dict[str, QueueVersions] = {}
    errors = {o.temporal_error for o in observations.values() if o.temporal_error is not None}
    if errors and dry_run:
        pulumi.log.warn(temporal_unknown(settings, sorted(errors)[0], dry_run))
    for queue in settings.queues:
        planned = queue_versions(
            settings, queue, target, observations[queue.task_queue], moment, dry_run
        )
        for note in planned.notes:
            pulumi.log.warn(f"queue {queue.task_queue}: {note}")
        result[queue.task_queue] = planned
    return result


def versioned_queues_or_exit(
    settings: StackSettings, target: str, root: Path
) -> dict[str, QueueVersions] | None:
    """`versioned_queues` for the entry point, before any resource is registered: a failure is
    one error line and exit code 32."""
    try:
        return versioned_queues(settings, target, root)
    except (ConfigError, VersioningError, ObserveError) as error:
        pulumi.log.error(str(error))
        raise SystemExit(USER_ACTIONABLE_EXIT_CODE) from error
