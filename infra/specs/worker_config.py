"""The worker config file (WORKER_* tuning as JSON) in a ConfigMap, and its checksum."""

from __future__ import annotations

import hashlib
import json

import pulumi

from infra.contract import CONFIG_DIR, CONFIG_FILE_NAME
from infra.settings import QueueSettings, StackSettings
from infra.specs import K8sObject, names, queue_metadata

CONFIG_FILE_PATH = f"{CONFIG_DIR}/{CONFIG_FILE_NAME}"
"""WORKER_CONFIG_FILE in the pods."""


def worker_config_text(queue: QueueSettings) -> str:
    """The JSON file whose keys are WORKER_* names (env wins over it in workerkit)."""
    return json.dumps(queue.tuning, sort_keys=True, indent=2) + "\n"


def config_checksum(queue: QueueSettings) -> str:
    """sha256 of the config file; a pod template annotation, so a change rolls the pods."""
    return hashlib.sha256(worker_config_text(queue).encode()).hexdigest()


def config_map_object(
    settings: StackSettings, queue: QueueSettings, namespace: pulumi.Input[str]
) -> K8sObject:
    """ConfigMap holding the worker config file."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": queue_metadata(settings, queue, names.config_map(queue), namespace),
        "data": {CONFIG_FILE_NAME: worker_config_text(queue)},
    }
