"""The worker container's environment: the workerkit contract (docs/architecture.md §1)."""

from __future__ import annotations

from typing import Any

import pulumi

from infra.contract import (
    API_KEY_SECRET_KEY,
    HEALTH_PORT,
    METRICS_PORT,
    TLS_CA_FILE,
    TLS_CERT_FILE,
    TLS_DIR,
    TLS_KEY_FILE,
)
from infra.settings import QueueSettings, SecretKeyRef, SecretSource, StackSettings
from infra.specs import names
from infra.specs.worker_config import CONFIG_FILE_PATH


def _value(name: str, value: pulumi.Input[str]) -> dict[str, Any]:
    return {"name": name, "value": value}


def _secret_ref(name: str, source: SecretSource, own_secret: str, own_key: str) -> dict[str, Any]:
    if isinstance(source, SecretKeyRef):
        ref = {"name": source.name, "key": source.key}
    else:
        ref = {"name": own_secret, "key": own_key}
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def container_env(
    settings: StackSettings, queue: QueueSettings, build_id: pulumi.Input[str] | None
) -> list[dict[str, Any]]:
    """Env of the worker container; secrets only as `secretKeyRef`, TLS files as mounted paths."""
    temporal = settings.temporal
    tls = temporal.tls
    own_secret = names.secret(queue)
    env = [
        _value("TEMPORAL_ADDRESS", temporal.address),
        _value("TEMPORAL_NAMESPACE", temporal.namespace),
        _value("TEMPORAL_TASK_QUEUE", queue.task_queue),
        _value("WORKER_APP", queue.app),
        _value("TEMPORAL_TLS", "true" if tls.enabled else "false"),
    ]
    if tls.server_name:
        env.append(_value("TEMPORAL_TLS_SERVER_NAME", tls.server_name))
    if tls.has_client_cert:
        env.append(_value("TEMPORAL_TLS_CLIENT_CERT_PATH", f"{TLS_DIR}/{TLS_CERT_FILE}"))
        env.append(_value("TEMPORAL_TLS_CLIENT_KEY_PATH", f"{TLS_DIR}/{TLS_KEY_FILE}"))
    if tls.has_ca:
        env.append(_value("TEMPORAL_TLS_SERVER_CA_CERT_PATH", f"{TLS_DIR}/{TLS_CA_FILE}"))
    if temporal.api_key is not None:
        env.append(
            _secret_ref("TEMPORAL_API_KEY", temporal.api_key, own_secret, API_KEY_SECRET_KEY)
        )
    if settings.versioning.enabled and build_id is not None:
        env.append(_value("TEMPORAL_DEPLOYMENT_NAME", queue.deployment_name))
        env.append(_value("TEMPORAL_WORKER_BUILD_ID", build_id))
        env.append(
            _value("WORKER_VERSIONING_DEFAULT_BEHAVIOR", settings.versioning.default_behavior)
        )
    env += [
        _value("WORKER_GRACEFUL_SHUTDOWN_SECONDS", str(queue.graceful_shutdown_seconds)),
        _value("WORKER_HEALTH_PORT", str(HEALTH_PORT)),
        _value("WORKER_METRICS_PORT", str(METRICS_PORT)),
        _value("WORKER_CONFIG_FILE", CONFIG_FILE_PATH),
    ]
    env += [_value(name, value) for name, value in sorted(queue.env.items())]
    env += [
        _secret_ref(name, source, own_secret, name)
        for name, source in sorted(queue.secret_env.items())
    ]
    return env
