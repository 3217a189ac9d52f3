"""`python -m infra.versions status|promote --stack S`: a stack's versions, and manual promotion.

`status` prints, per queue and build: role (current / ramping N% / draining / drained / inactive),
live pollers, running pinned workflows, age, and the next sunset step with its time. `promote`
makes a build current by the same rules as `pulumi up` (pollers first, never forced): the way a
`manual` strategy promotes. The stack's config is read from `Pulumi.<stack>.yaml` of the current
directory (the project); Temporal and the cluster are reached as the program reaches them. Bad
input: one line, exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from temporalio.client import Client
from temporalio.service import RPCError

from infra.errors import ConfigError
from infra.settings import QueueSettings, StackSettings
from infra.validate import parse_stack_settings
from infra.versions import temporal_api as api
from infra.versions.observe import (
    ObserveError,
    control_connection,
    missing_credentials,
    read_ledger,
)
from infra.versions.plan import POLLER_HISTORY, LiveBuild
from infra.versions.rollout import RolloutError, RolloutRequest, promote

USAGE_EXIT = 2


class UsageError(Exception):
    """Bad input; one line."""


def load_settings(stack: str, root: Path) -> StackSettings:
    """The validated settings of `Pulumi.<stack>.yaml` (project name from `Pulumi.yaml`)."""
    path = root / f"Pulumi.{stack}.yaml"
    if not path.exists():
        stacks = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))
        raise UsageError(f"--stack {stack}: no {path.name} (stacks: {', '.join(stacks)})")
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())["name"]
    config = yaml.safe_load(path.read_text()).get("config", {}) or {}
    prefix = f"{project}:"
    values = {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}
    secrets = {k for k, v in values.items() if isinstance(v, dict) and "secure" in v}
    settings = parse_stack_settings(project, stack, values, secrets)
    if not settings.versioning.enabled:
        raise UsageError(f"--stack {stack}: versioning.enabled is false (nothing is versioned)")
    return settings


@dataclass(frozen=True)
class VersionRow:
    """One line of `status`."""

    queue: str
    build: str
    role: str
    pollers: str
    pinned: str
    age: str
    next_step: str


def _age(since: datetime | None, now: datetime) -> str:
    if since is None:
        return "-"
    seconds = int((now - since).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _next_step(
    settings: StackSettings, summary: api.VersionSummary, live: LiveBuild | None, now: datetime
) -> str:
    delays = settings.versioning
    if summary.status in ("current", "ramping"):
        return "-"
    if summary.status == "draining":
        return "wait for pinned workflows to finish"
    if live is not None and live.scaled_down_at is not None:
        when = live.scaled_down_at + max(
            timedelta(seconds=delays.delete_delay_seconds), POLLER_HISTORY
        )
        return f"delete version + Deployment at next up after {when:%Y-%m-%d %H:%M}Z"
    start = summary.drained_since or now
    when = start + timedelta(seconds=delays.scaledown_delay_seconds)
    return f"scale to 0 at next up after {when:%Y-%m-%d %H:%M}Z"


async def _pinned_running(client: Client, deployment: str, build: str) -> int:
    query = (
        f"TemporalWorkerDeploymentVersion = '{deployment}:{build}' AND "
        "TemporalWorkflowVersioningBehavior = 'Pinned' AND ExecutionStatus = 'Running'"
    )
    try:
        return (await client.count_workflows(query)).count
    except RPCError:  # a visibility store without these search attributes: shown as "?"
        return -1


async def queue_rows(
    settings: StackSettings, queue: QueueSettings, client: Client, live: list[LiveBuild]
) -> list[VersionRow]:
    """The status rows of one queue."""
    now = datetime.now(UTC)
    snap = await api.describe(client, queue.deployment_name)
    if snap is None:
        return [VersionRow(queue.task_queue, "-", "no versions yet", "-", "-", "-", "-")]
    by_build = {b.build_id: b for b in live}
    rows: list[VersionRow] = []
    for build, summary in sorted(snap.versions.items(), key=lambda kv: kv[1].created or now):
        role = summary.status
        if build == snap.ramping:
            role = f"ramping {snap.ramp_percent:g}%"
        pairs = await api.version_pairs(client, queue.deployment_name, build)
        counts: list[str] = []
        for queue_name, queue_type in sorted(pairs):
            seen = await api.live_pollers(
                client, queue.deployment_name, build, queue_name, {queue_type}
            )
            counts.append(f"{queue_type}={len(seen.get(queue_type, set()))}")
        pinned = await _pinned_running(client, queue.deployment_name, build)
        rows.append(
            VersionRow(
                queue=queue.task_queue,
                build=build,
                role=role,
                pollers=" ".join(counts) or "0",
                pinned="?" if pinned < 0 else str(pinned),
                age=_age(summary.created, now),
                next_step=_next_step(settings, summary, by_build.get(build), now),
            )
        )
    return rows


def render(rows: list[VersionRow]) -> str:
    """A plain-text table."""
    header = ("QUEUE", "BUILD", "ROLE", "LIVE POLLERS", "PINNED RUNNING", "AGE", "NEXT SUNSET STEP")
    table = [header] + [
        (r.queue, r.build, r.role, r.pollers, r.pinned, r.age, r.next_step) for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in table
    )


async def _connect(settings: StackSettings) -> Client:
    conn = control_connection(settings)
    missing = missing_credentials(settings, conn)
    if missing:
        raise ConnectionError(f"cannot reach Temporal at {conn.address}: {missing}")
    return await api.connect(conn)


async def status(settings: StackSettings, root: Path) -> str:
    """The status table of every queue of the stack."""
    client = await _connect(settings)
    rows: list[VersionRow] = []
    for queue in settings.queues:
        try:
            live, _ = read_ledger(settings, queue, root)
        except ObserveError:
            live = []  # the cluster is optional here: only the sunset times use it
        rows += await queue_rows(settings, queue, client, live)
    return render(rows)


async def promote_build(settings: StackSettings, queue: QueueSettings, build: str) -> str:
    """Make `build` current for `queue` now (after its pollers are up)."""
    client = await _connect(settings)
    versioning = settings.versioning
    request = RolloutRequest(
        deployment=queue.deployment_name,
        queue=queue.task_queue,
        target=build,
        strategy="allAtOnce",
        min_pollers=versioning.min_pollers,
        pollers_timeout=versioning.pollers_timeout_seconds,
        routing_timeout=versioning.routing_timeout_seconds,
        identity=versioning.identity,
    )
    result = await promote(client, request)
    return (
        f"{queue.task_queue}: current {result.current} ({', '.join(result.events) or 'no change'})"
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m infra.versions", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    status_cmd = sub.add_parser("status", help="the versions of every queue of a stack")
    status_cmd.add_argument("--stack", required=True)
    promote_cmd = sub.add_parser("promote", help="make a build current (manual strategy)")
    promote_cmd.add_argument("--stack", required=True)
    promote_cmd.add_argument("--queue", required=True)
    promote_cmd.add_argument("--build", required=True)
    args = parser.parse_args(argv)
    try:
        root = Path.cwd()
        settings = load_settings(args.stack, root)
        if args.command == "status":
            print(asyncio.run(status(settings, root)))
            return 0
        queues = {q.task_queue: q for q in settings.queues}
        if args.queue not in queues:
            raise UsageError(
                f"--queue {args.queue}: not a queue of stack {args.stack} ({', '.join(queues)})"
            )
        print(asyncio.run(promote_build(settings, queues[args.queue], args.build)))
        return 0
    except (UsageError, ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return USAGE_EXIT
    except (ConnectionError, RolloutError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
