"""Read the stack's raw config from the Pulumi runtime and validate it (before any resource)."""

from __future__ import annotations

import json
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from infra.contract import PROJECT
from infra.errors import ConfigError
from infra.settings import StackSettings
from infra.validate import parse_stack_settings


def raw_config(namespace: str = PROJECT) -> tuple[dict[str, Any], set[str]]:
    """All `<namespace>:*` values (JSON-decoded objects) and the set of secret top-level keys."""
    prefix = f"{namespace}:"
    full_keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    secret_full = set(runtime_config.get_config_secret_keys_env())
    values: dict[str, Any] = {}
    secrets: set[str] = set()
    for full_key in sorted(k for k in full_keys if k.startswith(prefix)):
        key = full_key[len(prefix) :]
        secret = runtime_config.is_config_secret(full_key) or full_key in secret_full
        values[key] = _decode(key, runtime_config.get_config(full_key), secret)
        if secret:
            secrets.add(key)
    return values, secrets


def _decode(key: str, value: Any, secret: bool) -> Any:
    """Structured config arrives as JSON text; every top-level key of this project is an object."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        shown = "a secret value" if secret else repr(value)
        raise ConfigError(key, f"must be an object (got {shown})") from None


USER_ACTIONABLE_EXIT_CODE = 32
"""Exit code the Python language host reads as "the program already reported the error"."""


def load_stack_settings() -> StackSettings:
    """The validated settings of the running stack; raises `ConfigError` (one line) if invalid."""
    values, secrets = raw_config()
    return parse_stack_settings(pulumi.get_project(), pulumi.get_stack(), values, secrets)


def stack_settings_or_exit() -> StackSettings:
    """`load_stack_settings` for the program entry point: an invalid config is reported as one line.

    The line goes to the engine as an error diagnostic, then the process exits with code 32, which
    `pulumi-language-python` turns into a silent bail: the user sees that line, no traceback and no
    extra "program exited with non-zero exit code" line (a bare `pulumi.RunError` would add it).
    """
    try:
        return load_stack_settings()
    except ConfigError as error:
        pulumi.log.error(str(error))
        raise SystemExit(USER_ACTIONABLE_EXIT_CODE) from error
