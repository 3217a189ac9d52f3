"""Names and the labels of docs/architecture.md §2 (sanitised only where Kubernetes requires)."""

from __future__ import annotations

import hashlib
import re

from infra.contract import PROJECT

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
BUILD_ID_LABEL = "temporal.io/build-id"
"""temporal-worker-controller's label names: KEDA, dashboards and policies select a version."""
DEPLOYMENT_NAME_LABEL = "temporal.io/deployment-name"
VERSION_ROLE_ANNOTATION = "temporal-workers.io/version-role"
"""What the program knew of a version when it rendered it (target, current, draining...)."""
SCALED_DOWN_ANNOTATION = "temporal-workers.io/scaled-down-at"
SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait"
"""pulumi-kubernetes creates the object without waiting for it to become ready."""
"""When the program scaled a drained version to 0 (ISO 8601): the start of its delete delay."""
LABEL_VALUE_MAX = 63
DNS_LABEL_MAX = 63
QUEUE_NAME_MAX = 40
"""Longest k8s name derived from a queue, leaving room for suffixes like `-worker-metrics`."""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def label_value(text: str) -> str:
    """`text` as a label value: unchanged when valid, otherwise sanitised and made unique."""
    if len(text) <= LABEL_VALUE_MAX and _LABEL_VALUE.match(text):
        return text
    cleaned = re.sub(r"[^-A-Za-z0-9_.]+", "-", text).strip("-_.")
    cleaned = cleaned[: LABEL_VALUE_MAX - 9].rstrip("-_.")
    return f"{cleaned}-{_digest(text)}" if cleaned else _digest(text)


def dns_label(text: str, max_length: int = QUEUE_NAME_MAX) -> str:
    """`text` as an RFC 1123 label: unchanged when valid, otherwise sanitised and made unique."""
    if len(text) <= max_length and _DNS_LABEL.match(text):
        return text
    cleaned = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    cleaned = cleaned[: max_length - 9].rstrip("-")
    return f"{cleaned}-{_digest(text)}" if cleaned else f"q-{_digest(text)}"


def is_dns_label(text: str) -> bool:
    """True when `text` is a valid RFC 1123 label (namespace names, object names)."""
    return len(text) <= DNS_LABEL_MAX and bool(_DNS_LABEL.match(text))


def stack_labels(stack: str) -> dict[str, str]:
    """Labels of stack-wide objects (the namespace)."""
    return {
        "app.kubernetes.io/name": "temporal-worker",
        "app.kubernetes.io/instance": label_value(stack),
        "app.kubernetes.io/part-of": PROJECT,
        "app.kubernetes.io/managed-by": "pulumi",
    }


def selector_labels(stack: str, task_queue: str) -> dict[str, str]:
    """The immutable subset used in selectors: name, instance, component."""
    return {
        "app.kubernetes.io/name": "temporal-worker",
        "app.kubernetes.io/instance": label_value(stack),
        "app.kubernetes.io/component": label_value(task_queue),
    }


def version_labels(deployment_name: str, build_id: str) -> dict[str, str]:
    """The labels that tell one version's objects apart (temporal-worker-controller's names)."""
    return {
        DEPLOYMENT_NAME_LABEL: label_value(deployment_name),
        BUILD_ID_LABEL: label_value(build_id),
    }


def queue_labels(stack: str, task_queue: str) -> dict[str, str]:
    """Every label docs/architecture.md §2 puts on every object of a queue."""
    return {
        **selector_labels(stack, task_queue),
        "app.kubernetes.io/part-of": PROJECT,
        "app.kubernetes.io/managed-by": "pulumi",
        "temporal.io/task-queue": label_value(task_queue),
    }
