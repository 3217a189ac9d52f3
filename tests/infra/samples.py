"""Small valid stack configs the tests mutate, and a parser shortcut."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from infra.contract import PROJECT
from infra.settings import QueueSettings, StackSettings
from infra.validate import parse_stack_settings


def base_config() -> dict[str, Any]:
    """A minimal valid config: one build image, one queue (billing), defaults elsewhere."""
    return copy.deepcopy(
        {
            "temporal": {"address": "temporal-frontend.temporal:7233", "namespace": "orders"},
            "image": {"buildId": "b1", "push": False},
            "queues": {"billing": {"app": "orders_app.queues:billing"}},
        }
    )


def settings_of(
    config: dict[str, Any], secret_keys: Iterable[str] = (), stack: str = "dev"
) -> StackSettings:
    """Parse `config` as the program would."""
    return parse_stack_settings(PROJECT, stack, config, set(secret_keys))


def only_queue(settings: StackSettings) -> QueueSettings:
    """The single queue of a one-queue config."""
    (queue,) = settings.queues
    return queue
