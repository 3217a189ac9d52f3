"""Malformed stack config: one exact one-line message per case, and nothing registered."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from infra.errors import ConfigError
from infra.stack_config import USER_ACTIONABLE_EXIT_CODE
from tests.infra.harness import EngineLog, Registration, run_program
from tests.infra.samples import base_config, settings_of

pytestmark = pytest.mark.unit

Mutation = Callable[[dict[str, Any]], object]


def _queue(config: dict[str, Any]) -> dict[str, Any]:
    queue: dict[str, Any] = config["queues"]["billing"]
    return queue


def _set(path: str, value: Any) -> Mutation:
    """Set a dotted path (creating objects on the way)."""

    def mutate(config: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = config
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(config: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = config
        for part in parents:
            node = node[part]
        del node[last]

    return mutate


P = "temporal-workers:"
QUEUE_KEYS = (
    "app, replicas, autoscaling, resources, tuning, gracefulShutdownSeconds, "
    "terminationBufferSeconds, env, secretEnv, pdb, serviceMonitor, dashboard, topologySpread, "
    "nodeSelector, tolerations, volumes, deploymentName"
)
CASES: list[tuple[str, Mutation, str]] = [
    (
        "min-replicas-below-two",
        _set("queues.billing.autoscaling.minReplicas", 1),
        P + "queues.billing.autoscaling.minReplicas must be >= 2 (got 1)",
    ),
    (
        "max-below-min",
        _set("queues.billing.autoscaling", {"minReplicas": 4, "maxReplicas": 3}),
        P + "queues.billing.autoscaling.maxReplicas must be >= minReplicas (4) (got 3)",
    ),
    (
        "scaling-mode-unknown",
        _set("queues.billing.autoscaling.mode", "auto"),
        P + "queues.billing.autoscaling.mode must be one of hpa, keda, fixed (got 'auto')",
    ),
    (
        "min-replicas-not-integer",
        _set("queues.billing.autoscaling.minReplicas", "two"),
        P + "queues.billing.autoscaling.minReplicas must be an integer (got 'two')",
    ),
    (
        "volume-shadows-the-config-dir",
        _set("queues.billing.volumes", {"data": {"claimName": "c", "mountPath": "/etc"}}),
        P + "queues.billing.volumes.data.mountPath overlaps the mount /etc/workerkit "
        "(choose another path)",
    ),
    (
        "volume-reuses-a-pod-volume-name",
        _set("queues.billing.volumes", {"tmp": {"claimName": "c", "mountPath": "/data"}}),
        P + "queues.billing.volumes.tmp is not a valid volume name (a DNS label, not one of "
        "tmp, worker-config, temporal-tls)",
    ),
    (
        "volume-without-claim",
        _set("queues.billing.volumes", {"data": {"mountPath": "/data"}}),
        P + "queues.billing.volumes.data.claimName is required (the name of an existing "
        "PersistentVolumeClaim of the namespace)",
    ),
    (
        "toleration-exists-with-value",
        _set("queues.billing.tolerations", [{"key": "pool", "operator": "Exists", "value": "a"}]),
        P + "queues.billing.tolerations[0].value must be unset with operator Exists",
    ),
    (
        "toleration-bad-effect",
        _set("queues.billing.tolerations", [{"key": "pool", "effect": "Never"}]),
        P + "queues.billing.tolerations[0].effect must be one of NoSchedule, PreferNoSchedule, "
        "NoExecute (got 'Never')",
    ),
    (
        "node-selector-bad-value",
        _set("queues.billing.nodeSelector", {"pool": "not ok"}),
        P + "queues.billing.nodeSelector.pool must be a Kubernetes label value (got 'not ok')",
    ),
    (
        "no-queues",
        _delete("queues"),
        P + "queues must name at least one task queue "
        "(e.g. queues: {orders: {app: orders_app.queues:orders}})",
    ),
    (
        "app-missing",
        _set("queues.billing", {"gracefulShutdownSeconds": 30}),
        P + "queues.billing.app is required (module:attribute, e.g. orders_app.queues:billing)",
    ),
    (
        "app-malformed",
        _set("queues.billing.app", "billing"),
        P + "queues.billing.app must be module:attribute, e.g. orders_app.queues:billing "
        "(got 'billing')",
    ),
    (
        "address-missing",
        _delete("temporal.address"),
        P + "temporal.address is required "
        "(host:port of the Temporal frontend, e.g. temporal-frontend:7233)",
    ),
    (
        "address-without-port",
        _set("temporal.address", "temporal-frontend"),
        P + "temporal.address must be host:port of the Temporal frontend, "
        "e.g. temporal-frontend:7233 (got 'temporal-frontend')",
    ),
    (
        "api-key-in-plain-text",
        _set("temporal.apiKey", "tk-plain"),
        P + "temporal.apiKey must be a secret: set it with "
        "`pulumi config set --secret --path temporal.apiKey <key>` or use a reference to an "
        "existing Kubernetes Secret (got a plain-text value)",
    ),
    (
        "graceful-shutdown-zero",
        _set("queues.billing.gracefulShutdownSeconds", 0),
        P + "queues.billing.gracefulShutdownSeconds must be >= 1 (got 0)",
    ),
    (
        "termination-buffer-below-policy",
        _set("queues.billing.terminationBufferSeconds", 5),
        P + "queues.billing.terminationBufferSeconds must be >= 10 (got 5)",
    ),
    (
        "unknown-queue-key",
        _set("queues.billing.autoscalng", {"minReplicas": 3}),
        P + f"queues.billing.autoscalng is not a known key (allowed: {QUEUE_KEYS})",
    ),
    (
        "unknown-top-level-key",
        _set("queue", {"billing": {}}),
        P + "queue is not a known key "
        "(allowed: namespace, kubernetes, temporal, image, versioning, defaults, queues)",
    ),
    (
        "memory-limit-below-request",
        _set(
            "queues.billing.resources",
            {"requests": {"memory": "256Mi"}, "limits": {"memory": "128Mi"}},
        ),
        P + "queues.billing.resources.limits.memory must be >= resources.requests.memory (256Mi) "
        "(got 128Mi)",
    ),
    (
        "cpu-not-a-quantity",
        _set("queues.billing.resources.requests.cpu", "lots"),
        P + "queues.billing.resources.requests.cpu must be a CPU quantity such as 250m or 1 "
        "(got 'lots')",
    ),
    (
        "replicas-with-hpa",
        _set("queues.billing.replicas", 3),
        P + "queues.billing.replicas is only used when autoscaling.mode is fixed (mode is hpa); "
        "set autoscaling.minReplicas/maxReplicas instead",
    ),
    (
        "fixed-single-replica",
        lambda c: _queue(c).update({"autoscaling": {"mode": "fixed"}, "replicas": 1}),
        P + "queues.billing.replicas must be >= 2 (got 1)",
    ),
    (
        "prebuilt-without-ref",
        _set("image", {"source": "prebuilt"}),
        P + "image.ref is required when image.source is prebuilt "
        "(an image reference by digest: <repository>@sha256:<64 hex>)",
    ),
    (
        "prebuilt-ref-by-tag",
        _set("image", {"source": "prebuilt", "ref": "ghcr.io/acme/worker:1.0"}),
        P + "image.ref must be an image reference by digest: <repository>@sha256:<64 hex> "
        "(got 'ghcr.io/acme/worker:1.0')",
    ),
    (
        "push-without-registry",
        _set("image.push", True),
        P + "image.registry is required when image.push is true ({address, username, password})",
    ),
    (
        "managed-env-name",
        _set("queues.billing.env", {"TEMPORAL_ADDRESS": "elsewhere:7233"}),
        P + "queues.billing.env.TEMPORAL_ADDRESS is set by the program; TEMPORAL_* and WORKER_* "
        "come from temporal.*, tuning and the queue settings (use another name)",
    ),
    (
        "secret-env-in-plain-text",
        _set("queues.billing.secretEnv", {"STRIPE_KEY": "sk-plain"}),
        P + "queues.billing.secretEnv.STRIPE_KEY must be a secret: set it with "
        "`pulumi config set --secret --path queues.billing.secretEnv.STRIPE_KEY <value>` or use "
        "a reference to an existing Kubernetes Secret (got a plain-text value)",
    ),
    (
        "pdb-would-drop-last-poller",
        _set("queues.billing.pdb.maxUnavailable", 2),
        P + "queues.billing.pdb.maxUnavailable must be <= 1 so the queue keeps a poller during "
        "disruptions (guaranteed replicas 2) (got 2)",
    ),
    (
        "bad-default-names-defaults-key",
        _set("defaults.autoscaling.minReplicas", 1),
        P + "defaults.autoscaling.minReplicas must be >= 2 (got 1)",
    ),
    (
        "namespace-name-invalid",
        _set("namespace.name", "Temporal_Workers"),
        P + "namespace.name must be a Kubernetes namespace name (lowercase RFC 1123 label, at "
        "most 63 characters) (got 'Temporal_Workers')",
    ),
    (
        "keda-without-trigger-auth",
        lambda c: (
            c["temporal"].update({"apiKeySecretRef": {"name": "tc", "key": "api-key"}}),
            _set("queues.billing.autoscaling.mode", "keda")(c),
        ),
        P + "queues.billing.autoscaling.keda.authenticationRef is required when autoscaling.mode "
        "is keda and Temporal uses an API key or mTLS (the name of a KEDA TriggerAuthentication)",
    ),
    (
        "progressive-without-steps",
        lambda c: c.update({"versioning": {"enabled": True, "strategy": "progressive"}}),
        P + "versioning.rampSteps is required when versioning.strategy is progressive "
        "(e.g. [{percent: 10, pauseSeconds: 300}, {percent: 50, pauseSeconds: 300}])",
    ),
    (
        "ramp-steps-not-increasing",
        lambda c: c.update(
            {
                "versioning": {
                    "enabled": True,
                    "strategy": "progressive",
                    "rampSteps": [{"percent": 50}, {"percent": 20}],
                }
            }
        ),
        P + "versioning.rampSteps[1].percent must be greater than the previous step's 50 (got 20)",
    ),
    (
        "ramp-pause-too-short",
        lambda c: c.update({"versioning": {"rampSteps": [{"percent": 10, "pauseSeconds": 5}]}}),
        P + "versioning.rampSteps[0].pauseSeconds must be >= 30 (got 5)",
    ),
    (
        "delete-delay-shorter-than-poller-history",
        lambda c: c.update({"versioning": {"sunset": {"deleteDelaySeconds": 60}}}),
        P + "versioning.sunset.deleteDelaySeconds must be >= 310 (got 60)",
    ),
    (
        "strategy-unknown",
        lambda c: c.update({"versioning": {"strategy": "bluegreen"}}),
        P + "versioning.strategy must be one of allAtOnce, progressive, manual (got 'bluegreen')",
    ),
    (
        "poller-mode-unknown",
        _set("queues.billing.tuning.pollerMode", "dynamic"),
        P + "queues.billing.tuning.pollerMode must be one of autoscaling, fixed (got 'dynamic')",
    ),
    (
        "queue-not-an-object",
        _set("queues.billing", "orders_app.queues:billing"),
        P + "queues.billing must be an object with at least app (got 'orders_app.queues:billing')",
    ),
    (
        "boolean-as-word",
        _set("namespace.create", "yes"),
        P + "namespace.create must be true or false (got 'yes')",
    ),
    (
        "queue-name-with-space",
        _set("queues", {"bill ing": {"app": "orders_app.queues:billing"}}),
        P + 'queues["bill ing"] is not a valid task queue name (1-200 characters, no whitespace)',
    ),
]


def rejected(config: dict[str, Any], **kwargs: Any) -> str:
    """Run the program on a bad config; return the one line it reported.

    Asserts what the CLI relies on: exactly one error diagnostic and nothing else above debug,
    exit code 32 (the language host's "already reported" bail: no traceback, no extra line), and
    not a single resource registered.
    """
    log = EngineLog()
    registered: list[Registration] = []
    with pytest.raises(SystemExit) as caught:
        run_program(config, on_registration=registered.append, logger=log.logger, **kwargs)
    assert caught.value.code == USER_ACTIONABLE_EXIT_CODE
    assert isinstance(caught.value.__cause__, ConfigError)
    assert registered == []
    shown = [(level, text) for level, text in log.records if level >= logging.INFO]
    assert len(shown) == 1, shown  # what the CLI shows without -v: that one error line
    (line,) = log.errors()
    assert "\n" not in line
    return line


@pytest.mark.parametrize(("mutate", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_config_is_one_exact_line_and_registers_nothing(
    mutate: Mutation, message: str
) -> None:
    config = base_config()
    mutate(config)
    assert rejected(config) == message


def test_there_are_at_least_fifteen_cases() -> None:
    assert len(CASES) >= 15


def test_client_cert_without_key_needs_both() -> None:
    config = base_config()
    config["temporal"]["tls"] = {"clientCert": "-----BEGIN CERTIFICATE-----"}
    assert rejected(config, secret_keys=["temporal"]) == (
        P + "temporal.tls.clientKey is required when temporal.tls.clientCert is set"
    )


def test_errors_under_secret_keys_never_quote_the_value() -> None:
    config = base_config()
    config["temporal"]["apiKey"] = "tk-very-secret"
    config["temporal"]["address"] = "tk-very-secret"
    line = rejected(config, secret_keys=["temporal"])
    assert "tk-very-secret" not in line
    assert line.endswith("(got a secret value)")


def test_non_object_top_level_value_is_rejected_before_parsing() -> None:
    line = rejected(base_config(), raw={"temporal": "temporal:7233"})
    assert line == P + "temporal must be an object (got 'temporal:7233')"


def test_config_error_is_a_run_error_for_other_callers() -> None:
    config = base_config()
    config["queues"]["billing"]["autoscaling"] = {"minReplicas": 1}
    with pytest.raises(pulumi.RunError) as caught:
        settings_of(config)
    assert isinstance(caught.value, ConfigError)
    assert caught.value.key == P + "queues.billing.autoscaling.minReplicas"


def test_a_valid_config_logs_no_error() -> None:
    log = EngineLog()
    run = run_program(base_config(), logger=log.logger)
    assert log.errors() == []
    assert run.registrations
