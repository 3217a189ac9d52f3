"""The queue's Secret, made from secret stack config (references to existing Secrets need none)."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from infra.contract import API_KEY_SECRET_KEY, TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE
from infra.settings import QueueSettings, SecretValue, StackSettings
from infra.specs import K8sObject, names, queue_metadata


def secret_entries(settings: StackSettings, queue: QueueSettings) -> dict[str, SecretValue]:
    """Secret key -> value from secret config: API key, inline TLS files, secret env values."""
    entries: dict[str, SecretValue] = {}
    temporal = settings.temporal
    if isinstance(temporal.api_key, SecretValue):
        entries[API_KEY_SECRET_KEY] = temporal.api_key
    tls = temporal.tls
    for key, value in (
        (TLS_CERT_FILE, tls.client_cert),
        (TLS_KEY_FILE, tls.client_key),
        (TLS_CA_FILE, tls.server_ca_cert),
    ):
        if value is not None:
            entries[key] = value
    for env_name, source in sorted(queue.secret_env.items()):
        if isinstance(source, SecretValue):
            entries[env_name] = source
    return entries


def secret_object(
    settings: StackSettings,
    queue: QueueSettings,
    namespace: pulumi.Input[str],
    values: Mapping[str, pulumi.Input[str]],
) -> K8sObject:
    """Opaque Secret; `values` are the (secret-wrapped) values of `secret_entries`."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": queue_metadata(settings, queue, names.secret(queue), namespace),
        "type": "Opaque",
        "stringData": dict(values),
    }
