"""What a rule returns: a message and the resource it is about."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """One violation: a one- or two-line message naming resource, queue, value found and fix."""

    message: str
    urn: str | None = None
