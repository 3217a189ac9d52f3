"""Temporal's Worker Deployment RPCs, as rollouts need them (temporalio has no high-level client).

Every call names the namespace and Worker Deployment; routing changes carry the manager identity and
the conflict token of the Describe they were decided on, and never `ignore_missing_task_queues` or
`allow_no_pollers`: Temporal's own guards (every (queue, type) of the current version polls on the
new one) stay on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from temporalio.api.deployment.v1 import WorkerDeploymentVersion
from temporalio.api.enums.v1 import (
    DescribeTaskQueueMode,
    RoutingConfigUpdateState,
    TaskQueueType,
    WorkerDeploymentVersionStatus,
)
from temporalio.api.taskqueue.v1 import TaskQueue, TaskQueueVersionSelection
from temporalio.api.workflowservice.v1 import (
    DeleteWorkerDeploymentVersionRequest,
    DescribeTaskQueueRequest,
    DescribeWorkerDeploymentRequest,
    DescribeWorkerDeploymentVersionRequest,
    SetWorkerDeploymentCurrentVersionRequest,
    SetWorkerDeploymentManagerRequest,
    SetWorkerDeploymentRampingVersionRequest,
)
from temporalio.client import Client
from temporalio.runtime import Runtime, TelemetryConfig
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

T = TypeVar("T")
RATE_LIMIT_RETRIES = 8

LIVE_POLLER_WINDOW = timedelta(seconds=75)
"""A live idle poller re-polls at least every long-poll period (about 60 s); a dead one lingers in
Describe until PollerHistoryTTL (5 min), so only pollers seen within this window count."""

QUEUE_TYPES: dict[int, str] = {
    TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW: "workflow",
    TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY: "activity",
    TaskQueueType.TASK_QUEUE_TYPE_NEXUS: "nexus",
}
_TYPE_BY_NAME = {name: value for value, name in QUEUE_TYPES.items()}

_STATUS: dict[int, str] = {
    WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_CURRENT: "current",
    WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_RAMPING: "ramping",
    WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING: "draining",
    WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINED: "drained",
}

Pair = tuple[str, str]
"""(task queue, queue type): `("orders", "activity")`."""


@dataclass(frozen=True)
class ControlConnection:
    """How `pulumi up` (not the pods) reaches Temporal. Picklable: the dynamic provider keeps it."""

    address: str
    namespace: str
    api_key: str | None = field(default=None, repr=False)
    tls: bool = False
    server_name: str | None = None
    client_cert: bytes | None = field(default=None, repr=False)
    client_key: bytes | None = field(default=None, repr=False)
    server_ca_cert: bytes | None = field(default=None, repr=False)
    identity: str = "pulumi"

    @property
    def has_credentials(self) -> bool:
        """True when the connection carries an API key or a client certificate."""
        return self.api_key is not None or self.client_cert is not None


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to completion from synchronous code, also inside a running event loop.

    The Pulumi program itself runs in an event loop, where `asyncio.run` is refused; the
    coroutine then runs on a loop of its own in a worker thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _file(env: str) -> bytes | None:
    path = os.environ.get(env)
    return open(path, "rb").read() if path else None


def credentials_from_environment(conn: ControlConnection) -> ControlConnection:
    """Fill what the stack config lacks from the envconfig names in pulumi's environment."""
    return ControlConnection(
        address=conn.address,
        namespace=conn.namespace,
        api_key=conn.api_key or os.environ.get("TEMPORAL_API_KEY") or None,
        tls=conn.tls,
        server_name=conn.server_name or os.environ.get("TEMPORAL_TLS_SERVER_NAME") or None,
        client_cert=conn.client_cert or _file("TEMPORAL_TLS_CLIENT_CERT_PATH"),
        client_key=conn.client_key or _file("TEMPORAL_TLS_CLIENT_KEY_PATH"),
        server_ca_cert=conn.server_ca_cert or _file("TEMPORAL_TLS_SERVER_CA_CERT_PATH"),
        identity=conn.identity,
    )


async def connect(conn: ControlConnection, timeout: float = 10.0) -> Client:
    """A client for `conn`; raises ConnectionError with one line when Temporal cannot be reached."""
    tls: bool | TLSConfig = False
    if conn.tls or conn.client_cert is not None:
        tls = TLSConfig(
            server_root_ca_cert=conn.server_ca_cert,
            domain=conn.server_name,
            client_cert=conn.client_cert,
            client_private_key=conn.client_key,
        )
    try:
        return await Client.connect(
            conn.address,
            namespace=conn.namespace,
            api_key=conn.api_key,
            tls=tls,
            identity=conn.identity,
            connect_timeout=timedelta(seconds=timeout),
            # A runtime of this client's own, without the worker heartbeat task: with the
            # process-wide default one, a short-lived process (pulumi's program, the dynamic
            # provider, the CLI) aborted at exit now and then ("PyGILState_Release ... finalizing":
            # 2 of 60 runs); with its own, 0 of 140.
            runtime=Runtime(telemetry=TelemetryConfig(), worker_heartbeat_interval=None),
        )
    except Exception as err:  # the core SDK raises RuntimeError for transport failures
        raise ConnectionError(f"cannot reach Temporal at {conn.address}: {_reason(err)}") from err


def _reason(err: Exception) -> str:
    """The transport failure in a few words (the core SDK nests Rust error debug output)."""
    text = str(err)
    for marker, reason in (
        ("Connection refused", "connection refused"),
        ("dns error", "the host name does not resolve"),
        ("timed out", "timed out"),
        ("certificate", "TLS certificate rejected"),
    ):
        if marker in text:
            return reason
    first = text.splitlines()[0] if text else type(err).__name__
    return first[:200]


async def _call(rpc: Callable[[Any], Awaitable[T]], request: Any) -> T:
    """One RPC; Temporal's per-deployment rate limit ("too many requests") is waited out."""
    for attempt in range(RATE_LIMIT_RETRIES):
        try:
            return await rpc(request)
        except RPCError as err:
            if err.status != RPCStatusCode.RESOURCE_EXHAUSTED or attempt == RATE_LIMIT_RETRIES - 1:
                raise
            await asyncio.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def _time(ts: Any) -> datetime | None:
    if ts is None or (ts.seconds == 0 and ts.nanos == 0):
        return None
    converted: datetime = ts.ToDatetime(tzinfo=UTC)
    return converted


@dataclass(frozen=True)
class VersionSummary:
    """One version of a Worker Deployment as Temporal reports it."""

    build_id: str
    status: str  # current | ramping | draining | drained | inactive
    created: datetime | None
    drained_since: datetime | None
    last_current: datetime | None


@dataclass(frozen=True)
class DeploymentSnapshot:
    """A Worker Deployment's routing and versions at one Describe (with its conflict token)."""

    name: str
    current: str | None  # None: unversioned workers take new work
    ramping: str | None
    ramp_percent: float
    ramp_changed: datetime | None
    versions: dict[str, VersionSummary]
    conflict_token: bytes
    manager: str
    routing_complete: bool

    def status_of(self, build_id: str) -> str | None:
        """`current`, `ramping`, `draining`, `drained`, `inactive`, or None if Temporal lacks it."""
        summary = self.versions.get(build_id)
        return summary.status if summary else None


async def describe(client: Client, deployment: str) -> DeploymentSnapshot | None:
    """The Worker Deployment, or None when it does not exist yet (no worker ever polled)."""
    try:
        resp = await _call(
            client.workflow_service.describe_worker_deployment,
            DescribeWorkerDeploymentRequest(namespace=client.namespace, deployment_name=deployment),
        )
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    info = resp.worker_deployment_info
    routing = info.routing_config
    versions: dict[str, VersionSummary] = {}
    for summary in info.version_summaries:
        build = summary.deployment_version.build_id
        status = _STATUS.get(summary.status, "inactive")
        drained = summary.drainage_info if summary.HasField("drainage_info") else None
        versions[build] = VersionSummary(
            build_id=build,
            status=status,
            created=_time(summary.create_time),
            drained_since=_time(drained.last_changed_time)
            if status == "drained" and drained
            else None,
            last_current=_time(summary.last_current_time),
        )
    current = routing.current_deployment_version.build_id or None
    ramping = routing.ramping_deployment_version.build_id or None
    return DeploymentSnapshot(
        name=deployment,
        current=current,
        ramping=ramping,
        ramp_percent=routing.ramping_version_percentage if ramping else 0.0,
        ramp_changed=_time(routing.ramping_version_percentage_changed_time),
        versions=versions,
        conflict_token=resp.conflict_token,
        manager=info.manager_identity,
        routing_complete=info.routing_config_update_state
        != RoutingConfigUpdateState.ROUTING_CONFIG_UPDATE_STATE_IN_PROGRESS,
    )


async def version_pairs(client: Client, deployment: str, build_id: str) -> set[Pair]:
    """The (queue, type) pairs a version has registered (empty when it never polled)."""
    try:
        resp = await _call(
            client.workflow_service.describe_worker_deployment_version,
            DescribeWorkerDeploymentVersionRequest(
                namespace=client.namespace,
                deployment_version=WorkerDeploymentVersion(
                    deployment_name=deployment, build_id=build_id
                ),
            ),
        )
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return set()
        raise
    return {(tq.name, QUEUE_TYPES.get(tq.type, str(tq.type))) for tq in resp.version_task_queues}


async def live_pollers(
    client: Client, deployment: str, build_id: str | None, queue: str, types: set[str]
) -> dict[str, set[str]]:
    """Identities polling `queue` per type for one version (None: unversioned), seen recently."""
    if build_id is None:
        selection = TaskQueueVersionSelection(unversioned=True)
        key = ""
    else:
        key = f"{deployment}:{build_id}"
        selection = TaskQueueVersionSelection(build_ids=[key])
    resp = await _call(
        client.workflow_service.describe_task_queue,
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=queue),
            api_mode=DescribeTaskQueueMode.DESCRIBE_TASK_QUEUE_MODE_ENHANCED,
            versions=selection,
            task_queue_types=[
                TaskQueueType.ValueType(_TYPE_BY_NAME[t])
                for t in sorted(types)
                if t in _TYPE_BY_NAME
            ],
            report_pollers=True,
        ),
    )
    since = datetime.now(UTC) - LIVE_POLLER_WINDOW
    found: dict[str, set[str]] = {t: set() for t in types}
    for version_key, info in resp.versions_info.items():
        if version_key != key:
            continue
        for type_value, type_info in info.types_info.items():
            name = QUEUE_TYPES.get(type_value, str(type_value))
            for poller in type_info.pollers:
                seen = _time(poller.last_access_time)
                if seen is not None and seen >= since:
                    found.setdefault(name, set()).add(poller.identity)
    return found


async def backlog(client: Client, queue: str) -> int:
    """Tasks waiting for unversioned workers of `queue` (workflow + activity)."""
    total = 0
    for queue_type in (
        TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    ):
        resp = await _call(
            client.workflow_service.describe_task_queue,
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=queue),
                task_queue_type=queue_type,
                report_stats=True,
            ),
        )
        total += resp.stats.approximate_backlog_count
    return total


async def set_manager(client: Client, deployment: str, identity: str, token: bytes) -> bytes:
    """Make `identity` the Worker Deployment's manager; returns the new conflict token."""
    resp = await _call(
        client.workflow_service.set_worker_deployment_manager,
        SetWorkerDeploymentManagerRequest(
            namespace=client.namespace,
            deployment_name=deployment,
            manager_identity=identity,
            conflict_token=token,
            identity=identity,
        ),
    )
    token_out: bytes = resp.conflict_token
    return token_out


async def set_current(
    client: Client, deployment: str, build_id: str, identity: str, token: bytes
) -> bytes:
    """SetCurrent (Temporal's guards on); returns the new conflict token."""
    resp = await _call(
        client.workflow_service.set_worker_deployment_current_version,
        SetWorkerDeploymentCurrentVersionRequest(
            namespace=client.namespace,
            deployment_name=deployment,
            build_id=build_id,
            conflict_token=token,
            identity=identity,
        ),
    )
    token_out: bytes = resp.conflict_token
    return token_out


async def set_ramping(
    client: Client, deployment: str, build_id: str, percent: float, identity: str, token: bytes
) -> bytes:
    """SetRamping to `percent` of new work (Temporal's guards on); returns the new token."""
    resp = await _call(
        client.workflow_service.set_worker_deployment_ramping_version,
        SetWorkerDeploymentRampingVersionRequest(
            namespace=client.namespace,
            deployment_name=deployment,
            build_id=build_id,
            percentage=percent,
            conflict_token=token,
            identity=identity,
        ),
    )
    token_out: bytes = resp.conflict_token
    return token_out


async def delete_version(client: Client, deployment: str, build_id: str, identity: str) -> None:
    """Delete a version; Temporal refuses while it drains or polled in the last 5 minutes."""
    await _call(
        client.workflow_service.delete_worker_deployment_version,
        DeleteWorkerDeploymentVersionRequest(
            namespace=client.namespace,
            deployment_version=WorkerDeploymentVersion(
                deployment_name=deployment, build_id=build_id
            ),
            identity=identity,
        ),
    )
