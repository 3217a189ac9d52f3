"""Property values as the engine sends them: unknowns during preview, numbers as floats.

The policy SDK hands rules a proxy that raises on every unknown value. `materialize` turns it into
plain dicts and lists in which each unknown is the `UNKNOWN` sentinel, so a rule can look at the
known parts of a resource and decide, for each check, whether the unknown part could change the
verdict (it then stays silent rather than guess).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from pulumi_policy.proxy import UnknownValueError, _DictProxy, _ListProxy

# The sentinels of pulumi_policy.proxy (and the engine's unknown string): an unknown value arrives
# as one of these strings when the policy SDK's proxy is bypassed (e.g. props built by tests).
UNKNOWN_SENTINELS: Final = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string (what the engine sends for any unknown)
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
        "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
        "e48ece36-62e2-4504-bad9-02848725956a",  # archive
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
    }
)


class _Unknown:
    """The one value that stands for "not known until the update runs"."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()


def is_unknown(value: object) -> bool:
    """True when `value` is unknown (the sentinel, or one of the engine's unknown strings)."""
    return value is UNKNOWN or (isinstance(value, str) and value in UNKNOWN_SENTINELS)


def _read(container: Any, key: Any) -> Any:
    """`container[key]`, with the SDK proxy's UnknownValueError turned into UNKNOWN."""
    try:
        return container[key]
    except UnknownValueError:
        return UNKNOWN


def materialize(value: Any) -> Any:
    """Plain dicts/lists/scalars from a (possibly proxied) property value; unknowns become UNKNOWN.

    The SDK's proxies are unwrapped through their `__target` (as the SDK's own serializer does),
    which reads raw values without raising; other mappings and sequences are read item by item.
    Secrets arrive already unwrapped (the SDK's `Analyze`/`AnalyzeStack` do not proxy them).
    """
    if isinstance(value, _DictProxy | _ListProxy):
        value = value["__target"]
    kind = type(value)
    if kind is str:
        return UNKNOWN if value in UNKNOWN_SENTINELS else value
    if kind is dict:
        return {key: materialize(item) for key, item in value.items()}
    if kind is list:
        return [materialize(item) for item in value]
    if value is None or isinstance(value, bytes | int | float | bool) or value is UNKNOWN:
        return value
    if isinstance(value, str):
        return UNKNOWN if value in UNKNOWN_SENTINELS else value
    if isinstance(value, Mapping):
        return {key: materialize(_read(value, key)) for key in list(value)}
    if isinstance(value, Sequence):
        return [materialize(_read(value, index)) for index in range(len(value))]
    return value


Shape = dict[str, Any] | list[Any] | None
"""What `materialize_shape` keeps: None = everything below; a dict = these keys (each with its own
shape); a one-element list = every item of a list, with that item's shape."""


def materialize_shape(value: Any, shape: Shape) -> Any:
    """`materialize` restricted to the parts named by `shape` (the rest is never read)."""
    if shape is None:
        return materialize(value)
    if isinstance(value, _DictProxy | _ListProxy):
        value = value["__target"]
    if is_unknown(value):
        return UNKNOWN
    if isinstance(shape, dict) and isinstance(value, dict):
        return {
            key: materialize_shape(value[key], sub) for key, sub in shape.items() if key in value
        }
    if isinstance(shape, list) and isinstance(value, list):
        return [materialize_shape(item, shape[0]) for item in value]
    return materialize(value)


def get(obj: Any, *path: str) -> Any:
    """Follow `path` through nested dicts: None when a step is absent, UNKNOWN if one is unknown."""
    current = obj
    for key in path:
        if is_unknown(current):
            return UNKNOWN
        if not isinstance(current, dict):
            return None
        current = current.get(key)
    return UNKNOWN if is_unknown(current) else current


def as_dict(value: Any) -> dict[str, Any]:
    """`value` when it is a dict, else an empty dict (absent, unknown or malformed)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """`value` when it is a list, else an empty list (absent, unknown or malformed)."""
    return value if isinstance(value, list) else []


def as_int(value: Any) -> int | None:
    """An integral number sent as a float (`2.0`) or digit string, as int; None otherwise."""
    if isinstance(value, bool) or is_unknown(value):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def as_number(value: Any) -> float | None:
    """A finite number from a float, int or numeric string; None otherwise (incl. unknown)."""
    if isinstance(value, bool) or is_unknown(value):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def fmt_number(value: float) -> str:
    """`30` for 30.0, `2.5` for 2.5: numbers as a person would write them in a manifest."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
