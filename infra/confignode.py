"""Typed reads of raw stack config with one-line errors naming the full key.

A `ConfigNode` is one value of the raw config and its path (`queues.billing.autoscaling`). Reads
check the type and range and raise `ConfigError` naming the full key and the allowed values. A node
may have a fallback node (the `defaults` key): missing values are read from it, under its own path,
so an error always names the key the bad value came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from infra.errors import ConfigError
from infra.settings import SecretKeyRef, SecretSource, SecretValue

_SIMPLE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def join_path(path: str, key: str) -> str:
    """Pulumi's `--path` syntax: `a.b` for simple keys, `a["b.c"]` otherwise."""
    part = key if _SIMPLE_KEY.match(key) else f'["{key}"]'
    if not path:
        return part
    return f"{path}{part}" if part.startswith("[") else f"{path}.{part}"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return repr(value) if isinstance(value, str) else str(value)


class ConfigNode:
    """One raw config value at `path`, read with type and range checks."""

    def __init__(
        self, path: str, value: Any, secret: bool, fallback: ConfigNode | None = None
    ) -> None:
        self.path = path
        self.value = value
        self.secret = secret
        self.fallback = fallback

    def _show(self, value: Any) -> str:
        """How a bad value is quoted in an error; values under secret keys are never shown."""
        if self.secret and not isinstance(value, dict | list):
            return "a secret value"
        return _show(value)

    # -- structure ---------------------------------------------------------------------------
    def fail(self, problem: str) -> ConfigError:
        """The error for this key (returned, so callers `raise node.fail(...)`)."""
        return ConfigError(self.path, problem)

    @property
    def present(self) -> bool:
        """True when this key (or its fallback) has a value."""
        return self.value is not None or (self.fallback is not None and self.fallback.present)

    def _own_object(self) -> dict[str, Any]:
        if self.value is None:
            return {}
        if not isinstance(self.value, dict):
            raise self.fail(f"must be an object (got {self._show(self.value)})")
        return self.value

    def check_keys(self, allowed: Sequence[str]) -> None:
        """Reject keys outside `allowed`, here and in the fallback."""
        for key in self._own_object():
            if key not in allowed:
                raise ConfigError(
                    join_path(self.path, key),
                    f"is not a known key (allowed: {', '.join(allowed)})",
                )
        if self.fallback is not None:
            self.fallback.check_keys(allowed)

    def child_keys(self) -> list[str]:
        """Keys of this object and its fallback, own keys first, each once."""
        own = list(self._own_object())
        extra = self.fallback.child_keys() if self.fallback is not None else []
        return own + [k for k in extra if k not in own]

    def get(self, key: str) -> ConfigNode:
        """The child `key`; when absent here, the fallback's child (with the fallback's path)."""
        own = self._own_object().get(key)
        child_fallback = self.fallback.get(key) if self.fallback is not None else None
        if own is None and child_fallback is not None and child_fallback.present:
            return child_fallback
        return ConfigNode(join_path(self.path, key), own, self.secret, child_fallback)

    def obj(self, allowed: Sequence[str]) -> ConfigNode:
        """This node as an object whose keys are all in `allowed`."""
        self.check_keys(allowed)
        return self

    # -- scalars -----------------------------------------------------------------------------
    def string(
        self,
        default: str | None = None,
        *,
        pattern: str | None = None,
        expected: str = "a string",
        choices: Iterable[str] | None = None,
    ) -> str | None:
        """A string (or `default` when absent), optionally matching `pattern` or `choices`."""
        if self.value is None:
            return default
        value = self.value
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(f"must be {expected} (got {self._show(value)})")
        text = str(value)
        if choices is not None:
            allowed = list(choices)
            if text not in allowed:
                raise self.fail(f"must be one of {', '.join(allowed)} (got {self._show(value)})")
        if pattern is not None and not re.fullmatch(pattern, text):
            raise self.fail(f"must be {expected} (got {self._show(value)})")
        return text

    def required_string(self, *, pattern: str | None = None, expected: str = "a string") -> str:
        """A string that must be present."""
        value = self.string(pattern=pattern, expected=expected)
        if value is None or value == "":
            raise self.fail(f"is required ({expected})")
        return value

    def choice(self, default: str, choices: Sequence[str]) -> str:
        """One of `choices`, `default` when absent."""
        value = self.string(default, choices=choices)
        assert value is not None
        return value

    def integer(self, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
        """An integer in [minimum, maximum], `default` when absent."""
        value = self.optional_integer(minimum, maximum)
        return default if value is None else value

    def optional_integer(
        self, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        """An integer in [minimum, maximum], or None when absent."""
        if self.value is None:
            return None
        value = self.value
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
            value = int(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"must be an integer (got {self._show(self.value)})")
        if minimum is not None and value < minimum:
            raise self.fail(f"must be >= {minimum} (got {value})")
        if maximum is not None and value > maximum:
            raise self.fail(f"must be <= {maximum} (got {value})")
        return value

    def number(self, minimum_exclusive: float) -> float | int | None:
        """A number > `minimum_exclusive`, or None when absent."""
        if self.value is None:
            return None
        value = self.value
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise self.fail(f"must be a number (got {self._show(self.value)})") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"must be a number (got {self._show(self.value)})")
        if value <= minimum_exclusive:
            raise self.fail(f"must be > {minimum_exclusive:g} (got {value:g})")
        return value

    def boolean(self, default: bool) -> bool:
        """true or false, `default` when absent."""
        if self.value is None:
            return default
        if isinstance(self.value, bool):
            return self.value
        if isinstance(self.value, str) and self.value in ("true", "false"):
            return self.value == "true"
        raise self.fail(f"must be true or false (got {self._show(self.value)})")

    def string_map(self, key_pattern: str, key_expected: str) -> dict[str, str]:
        """An object of string values whose keys match `key_pattern`."""
        result: dict[str, str] = {}
        for key in self.child_keys():
            child = self.get(key)
            if not re.fullmatch(key_pattern, key):
                raise child.fail(f"is not a valid name ({key_expected})")
            value = child.value
            if isinstance(value, dict | list) or value is None:
                raise child.fail(f"must be a string (got {self._show(value)})")
            result[key] = _show(value) if isinstance(value, bool) else str(value)
        return result

    # -- secrets -----------------------------------------------------------------------------
    def secret_string(self, set_hint: str) -> SecretValue | None:
        """A string that must come from a secret config key (`pulumi config set --secret`)."""
        value = self.string()
        if value is None:
            return None
        if not self.secret:
            raise self.fail(
                f"must be a secret: set it with `pulumi config set --secret --path {set_hint}` "
                "or use a reference to an existing Kubernetes Secret (got a plain-text value)"
            )
        return SecretValue(value)

    def secret_key_ref(self) -> SecretKeyRef | None:
        """`{name, key}` of an existing Kubernetes Secret, or None when absent."""
        if not self.present:
            return None
        node = self.obj(["name", "key"])
        return SecretKeyRef(
            name=node.get("name").required_string(
                pattern=DNS_SUBDOMAIN, expected="the name of an existing Kubernetes Secret"
            ),
            key=node.get("key").required_string(
                pattern=SECRET_KEY, expected="a key of that Secret ([-._a-zA-Z0-9]+)"
            ),
        )

    def secret_source(self, set_hint: str) -> SecretSource:
        """A secret value from secret config, or `{secretKeyRef: {name, key}}`."""
        if isinstance(self.value, dict):
            node = self.obj(["secretKeyRef"])
            ref = node.get("secretKeyRef").secret_key_ref()
            if ref is None:
                raise node.fail("must be a secret value or {secretKeyRef: {name, key}}")
            return ref
        secret = self.secret_string(set_hint)
        assert secret is not None
        return secret


DNS_SUBDOMAIN = r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?"
DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
SECRET_KEY = r"[-._a-zA-Z0-9]{1,253}"
