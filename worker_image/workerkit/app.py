"""Loading the user's workflows and activities from `WORKER_APP=module:attribute`."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from workerkit.errors import ConfigError


@dataclass(frozen=True)
class WorkerApp:
    """What one task queue serves: workflow classes and activity callables."""

    workflows: Sequence[type] = field(default_factory=tuple)
    activities: Sequence[Callable[..., Any]] = field(default_factory=tuple)

    @property
    def has_sync_activities(self) -> bool:
        """Whether any activity is a plain function (these need a thread pool)."""
        return any(not inspect.iscoroutinefunction(a) for a in self.activities)


def load_app(spec: str) -> WorkerApp:
    """Import `module:attribute` and check it has `workflows` and `activities` to register."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(f"WORKER_APP must be module:attribute (got {spec!r})")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(f"WORKER_APP: cannot import module {module_name!r} ({err})") from None
    try:
        target = getattr(module, attribute)
    except AttributeError:
        raise ConfigError(
            f"WORKER_APP: module {module_name!r} has no attribute {attribute!r}"
        ) from None
    workflows = getattr(target, "workflows", None)
    activities = getattr(target, "activities", None)
    if workflows is None or activities is None:
        raise ConfigError(f"WORKER_APP: {spec} must have 'workflows' and 'activities' attributes")
    if not workflows and not activities:
        raise ConfigError(f"WORKER_APP: {spec} has no workflows and no activities")
    return WorkerApp(workflows=tuple(workflows), activities=tuple(activities))
