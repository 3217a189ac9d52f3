"""Pure parts of preview stacks: PR numbers, names, durations, timestamps and the TTL record.

A preview stack ``pr-<N>`` records its lifetime twice, in the same words: as stack tags in the
Pulumi backend (they survive a fresh CI checkout, so ``list`` and ``gc`` work from any machine)
and as labels of its namespace (so the cluster shows which namespaces are previews and when they
expire). Timestamps use the compact UTC form ``20261125T230054Z``, valid as a label value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from infra.contract import PROJECT
from infra.validate import BUILD_ID, DIGEST_REF

MAX_PR = 999_999_999
"""Largest PR number: keeps ``temporal-workers-pr-<N>`` a valid namespace name."""
STACK_PREFIX = "pr-"
DEFAULT_TTL = timedelta(hours=72)

LABEL_PREFIX = "preview.temporal-workers/"
"""Namespace label keys: ``<prefix>pr``, ``created-at``, ``expires-at``, ``ttl``."""
TAG_PREFIX = "preview:"
"""Stack tag keys: ``preview:pr``, ``created-at``, ``expires-at``, ``ttl``, ``image``."""

_STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_DURATION = re.compile(r"(\d+)([smhd])")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


class PreviewError(Exception):
    """A failure reported as one line (no traceback) with a non-zero exit code."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        """``exit_code`` 2 is bad input, 1 an operational failure."""
        super().__init__(message)
        self.exit_code = exit_code


def parse_pr_number(text: str) -> int:
    """A pull request number: a positive decimal integer without sign or leading zeros."""
    if not re.fullmatch(r"[1-9][0-9]*", text.strip()) or int(text) > MAX_PR:
        raise PreviewError(
            f"bad PR number {text!r}: expected a positive integer from 1 to {MAX_PR}", 2
        )
    return int(text)


def stack_name(pr: int) -> str:
    """The preview stack of pull request ``pr``: ``pr-<N>``."""
    return f"{STACK_PREFIX}{pr}"


def namespace_name(pr: int) -> str:
    """The namespace of pull request ``pr``: ``temporal-workers-pr-<N>``."""
    return f"{PROJECT}-{stack_name(pr)}"


def pr_of_stack(name: str) -> int | None:
    """The PR number of a stack name (``pr-12`` or ``org/project/pr-12``), None if not a preview."""
    short = name.rsplit("/", 1)[-1]
    match = re.fullmatch(r"pr-([1-9][0-9]{0,8})", short)
    return int(match.group(1)) if match else None


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``72h``, ``3d`` or a sum like ``1d12h``; must be longer than zero."""
    compact = text.strip().lower()
    if not compact or not re.fullmatch(r"(\d+[smhd])+", compact):
        raise PreviewError(
            f"bad duration {text!r}: expected a number and a unit s, m, h, d (e.g. 72h, 1h30m)",
            2,
        )
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _DURATION.findall(compact))
    if seconds <= 0:
        raise PreviewError(f"bad duration {text!r}: must be longer than zero", 2)
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """Canonical compact form of a positive duration: ``3d``, ``1h30m``, ``45s``."""
    remaining = int(delta.total_seconds())
    if remaining <= 0:
        return "0s"
    parts = []
    for unit, size in _UNITS.items():
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def format_age(delta: timedelta) -> str:
    """A short age with at most two units, like kubectl: ``42s``, ``5m12s``, ``3h12m``, ``2d3h``."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if seconds < 86400:
        hours, rest = divmod(seconds, 3600)
        return f"{hours}h{rest // 60}m" if rest // 60 else f"{hours}h"
    days, rest = divmod(seconds, 86400)
    return f"{days}d{rest // 3600}h" if rest // 3600 else f"{days}d"


def format_stamp(moment: datetime) -> str:
    """UTC timestamp usable as a label value: ``20261125T230054Z``."""
    return moment.astimezone(UTC).strftime(_STAMP_FORMAT)


def parse_stamp(text: str) -> datetime:
    """Inverse of :func:`format_stamp` (an aware UTC datetime)."""
    try:
        return datetime.strptime(text, _STAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise PreviewError(f"bad timestamp {text!r}: expected YYYYMMDDTHHMMSSZ") from exc


def check_image_ref(ref: str) -> str:
    """An image reference by digest (``<repository>@sha256:<64 hex>``), as the program requires."""
    if not re.fullmatch(DIGEST_REF, ref):
        raise PreviewError(
            f"bad image reference {ref!r}: expected <repository>@sha256:<64 hex digits>", 2
        )
    return ref


def check_build_id(build_id: str) -> str:
    """A build id as the program accepts it (an image tag: ``[A-Za-z0-9_.-]``, at most 128)."""
    if not re.fullmatch(BUILD_ID, build_id):
        raise PreviewError(
            f"bad build id {build_id!r}: expected an image tag ([A-Za-z0-9_.-], at most 128)", 2
        )
    return build_id


@dataclass(frozen=True)
class Lifetime:
    """When a preview stack was created, how long it lives, and which image it runs."""

    pr: int
    created_at: datetime
    expires_at: datetime
    ttl: timedelta
    image_ref: str | None = None

    def tags(self) -> dict[str, str]:
        """The stack tags that record this lifetime."""
        tags = {
            f"{TAG_PREFIX}pr": str(self.pr),
            f"{TAG_PREFIX}created-at": format_stamp(self.created_at),
            f"{TAG_PREFIX}expires-at": format_stamp(self.expires_at),
            f"{TAG_PREFIX}ttl": format_duration(self.ttl),
        }
        if self.image_ref:
            tags[f"{TAG_PREFIX}image"] = self.image_ref
        return tags

    def labels(self) -> dict[str, str]:
        """The namespace labels that carry this lifetime into the cluster."""
        return {
            f"{LABEL_PREFIX}pr": str(self.pr),
            f"{LABEL_PREFIX}created-at": format_stamp(self.created_at),
            f"{LABEL_PREFIX}expires-at": format_stamp(self.expires_at),
            f"{LABEL_PREFIX}ttl": format_duration(self.ttl),
        }

    @classmethod
    def from_tags(cls, tags: dict[str, str]) -> Lifetime | None:
        """The lifetime recorded in a stack's tags; None when they are missing or unreadable."""
        try:
            return cls(
                pr=int(tags[f"{TAG_PREFIX}pr"]),
                created_at=parse_stamp(tags[f"{TAG_PREFIX}created-at"]),
                expires_at=parse_stamp(tags[f"{TAG_PREFIX}expires-at"]),
                ttl=parse_duration(tags[f"{TAG_PREFIX}ttl"]),
                image_ref=tags.get(f"{TAG_PREFIX}image") or None,
            )
        except (KeyError, ValueError, PreviewError):
            return None


def plan_lifetime(
    pr: int,
    recorded: Lifetime | None,
    now: datetime,
    ttl: timedelta | None,
    image_ref: str | None,
    renew: bool = False,
) -> Lifetime:
    """The lifetime an ``up`` deploys; unchanged on a plain re-run, so that re-run changes nothing.

    ``created-at`` is set once. The expiry is ``now + ttl`` for a new stack, and moves again only
    when the PR shows activity: a new image, a different TTL, or ``renew``. Without ``image_ref``
    a re-run keeps the recorded image (``None`` = the template's).
    """
    if recorded is None:
        chosen = ttl or DEFAULT_TTL
        return Lifetime(pr, now, now + chosen, chosen, image_ref)
    chosen = ttl or recorded.ttl
    image = image_ref or recorded.image_ref
    if renew or chosen != recorded.ttl or image != recorded.image_ref:
        return replace(recorded, expires_at=now + chosen, ttl=chosen, image_ref=image)
    return recorded


@dataclass(frozen=True)
class PreviewStack:
    """A preview stack as ``list`` and ``gc`` see it."""

    name: str
    pr: int
    lifetime: Lifetime | None
    last_update: datetime | None
    resource_count: int | None

    @property
    def namespace(self) -> str:
        """The stack's namespace."""
        return namespace_name(self.pr)

    def created(self) -> datetime | None:
        """Creation time: the recorded one, else the last update (stacks made by hand)."""
        return self.lifetime.created_at if self.lifetime else self.last_update

    def age(self, now: datetime) -> timedelta | None:
        """Time since creation, when known."""
        created = self.created()
        return now - created if created else None

    def is_stale(self, now: datetime, ttl: timedelta | None) -> bool:
        """With ``ttl``: older than it. Without: past the stack's own recorded expiry."""
        if ttl is not None:
            age = self.age(now)
            return age is not None and age > ttl
        return self.lifetime is not None and now >= self.lifetime.expires_at


def describe_expiry(stack: PreviewStack, now: datetime) -> str:
    """``in 2d20h``, ``expired 5m ago`` or ``-`` when nothing is recorded."""
    if stack.lifetime is None:
        return "-"
    left = stack.lifetime.expires_at - now
    if left.total_seconds() > 0:
        return f"in {format_age(left)}"
    return f"expired {format_age(-left)} ago"
