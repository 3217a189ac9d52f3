"""What the program reads before it declares a versioned queue: the live builds and Temporal's view.

The ledger is the cluster itself: each versioned Deployment carries its exact build id (the
container env), the image it runs and, once scaled to 0, when that happened (an annotation), so a
build the config no longer names can be re-declared unchanged until it is safe to remove. Temporal
says which build is current, ramping, draining or drained. Tests replace `OBSERVER`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from infra.names import (
    BUILD_ID_LABEL,
    SCALED_DOWN_ANNOTATION,
    VERSION_ROLE_ANNOTATION,
    selector_labels,
)
from infra.settings import KubernetesSettings, QueueSettings, SecretValue, StackSettings
from infra.versions import temporal_api as api
from infra.versions.plan import LiveBuild

BUILD_ID_ENV = "TEMPORAL_WORKER_BUILD_ID"


@dataclass
class QueueObservation:
    """One queue's live builds and Temporal's view of its Worker Deployment."""

    live: list[LiveBuild] = field(default_factory=list)
    unversioned_image: str | None = None  # the running unversioned Deployment's image, if any
    snapshot: api.DeploymentSnapshot | None = None
    temporal_error: str | None = None  # why Temporal's view is missing (None: it was read)
    backlog: int | None = None  # tasks waiting for unversioned workers


Observer = Callable[[StackSettings, Path], dict[str, QueueObservation]]


class ObserveError(Exception):
    """The cluster could not be read; one line."""


def _kubectl(kube: KubernetesSettings, root: Path, args: list[str]) -> str:
    binary = shutil.which("kubectl")
    if binary is None:
        raise ObserveError("versioning.enabled needs kubectl on PATH to read the live versions")
    cmd = [binary]
    if kube.kubeconfig:
        cmd += ["--kubeconfig", str(root / kube.kubeconfig)]
    if kube.context:
        cmd += ["--context", kube.context]
    done = subprocess.run(cmd + args, capture_output=True, text=True, check=False, timeout=60)
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no output"])[0]
        raise ObserveError(f"cannot read the live versions from the cluster: {first}")
    return done.stdout


def _container_env(deployment: dict[str, object]) -> tuple[str | None, dict[str, str]]:
    spec = deployment.get("spec", {})
    template = spec.get("template", {}) if isinstance(spec, dict) else {}
    pod = template.get("spec", {}) if isinstance(template, dict) else {}
    containers = pod.get("containers", []) if isinstance(pod, dict) else []
    for container in containers:
        env = {e["name"]: e.get("value", "") for e in container.get("env", []) if "name" in e}
        return container.get("image"), env
    return None, {}


def read_ledger(
    settings: StackSettings, queue: QueueSettings, root: Path
) -> tuple[list[LiveBuild], str | None]:
    """The queue's versioned Deployments (build, image, scaled-down time) and unversioned image."""
    selector = ",".join(
        f"{k}={v}" for k, v in selector_labels(settings.stack, queue.task_queue).items()
    )
    out = _kubectl(
        settings.kubernetes,
        root,
        ["get", "deployments", "-n", settings.namespace.name, "-l", selector, "-o", "json"],
    )
    live: list[LiveBuild] = []
    unversioned: str | None = None
    for item in json.loads(out or "{}").get("items", []):
        meta = item.get("metadata", {})
        image, env = _container_env(item)
        if not image:
            continue
        if BUILD_ID_LABEL not in meta.get("labels", {}):
            unversioned = image
            continue
        annotations = meta.get("annotations", {})
        stamp = annotations.get(SCALED_DOWN_ANNOTATION)
        live.append(
            LiveBuild(
                build_id=env.get(BUILD_ID_ENV) or meta["labels"][BUILD_ID_LABEL],
                image=image,
                scaled_down_at=datetime.fromisoformat(stamp) if stamp else None,
                role=annotations.get(VERSION_ROLE_ANNOTATION),
            )
        )
    return live, unversioned


async def _read_temporal(
    conn: api.ControlConnection,
    queues: list[QueueSettings],
    observations: dict[str, QueueObservation],
) -> None:
    client = await api.connect(conn)
    for queue in queues:
        observation = observations[queue.task_queue]
        observation.snapshot = await api.describe(client, queue.deployment_name)
        if observation.unversioned_image is not None:
            observation.backlog = await api.backlog(client, queue.task_queue)


def observe(settings: StackSettings, root: Path) -> dict[str, QueueObservation]:
    """The cluster's and Temporal's view of each queue (Temporal failures recorded, not raised)."""
    observations: dict[str, QueueObservation] = {}
    for queue in settings.queues:
        live, unversioned = read_ledger(settings, queue, root)
        observations[queue.task_queue] = QueueObservation(live=live, unversioned_image=unversioned)
    conn = control_connection(settings)
    missing = missing_credentials(settings, conn)
    try:
        if missing:
            raise ConnectionError(missing)  # never dial a Temporal that would refuse us anyway
        api.run_sync(_read_temporal(conn, list(settings.queues), observations))
    except Exception as err:  # any failure: Temporal's view is missing
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        for observation in observations.values():
            observation.snapshot = None
            observation.temporal_error = reason
    return observations


def control_connection(settings: StackSettings) -> api.ControlConnection:
    """How pulumi reaches Temporal: the stack's address and inline credentials, else the env's."""
    temporal = settings.temporal
    tls = temporal.tls
    versioning = settings.versioning
    api_key = temporal.api_key.value if isinstance(temporal.api_key, SecretValue) else None
    conn = api.ControlConnection(
        address=versioning.control_address or temporal.address,
        namespace=temporal.namespace,
        api_key=api_key,
        tls=tls.enabled if versioning.control_tls is None else versioning.control_tls,
        server_name=tls.server_name,
        client_cert=tls.client_cert.value.encode() if tls.client_cert else None,
        client_key=tls.client_key.value.encode() if tls.client_key else None,
        server_ca_cert=tls.server_ca_cert.value.encode() if tls.server_ca_cert else None,
        identity=settings.versioning.identity,
    )
    return api.credentials_from_environment(conn)


def missing_credentials(settings: StackSettings, conn: api.ControlConnection) -> str | None:
    """Why pulumi cannot authenticate to the workers' Temporal, or None when it can.

    Workers that authenticate (API key, client certificate) mean their Temporal needs it from
    pulumi too; a `versioning.controlAddress` of its own is the user's call.
    """
    if settings.versioning.control_address is not None or conn.has_credentials:
        return None
    temporal = settings.temporal
    if temporal.api_key is not None:
        return "no API key for pulumi (set TEMPORAL_API_KEY in its environment)"
    if temporal.tls.has_client_cert:
        return (
            "no client certificate for pulumi (set TEMPORAL_TLS_CLIENT_CERT_PATH and "
            "TEMPORAL_TLS_CLIENT_KEY_PATH in its environment)"
        )
    return None


OBSERVER: list[Observer] = [observe]
"""The observer the program uses; the mock tier swaps in a fake."""
