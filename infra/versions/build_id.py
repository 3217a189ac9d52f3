"""The build id of a worker image: it follows the artifact, so new code is always a new version.

A prebuilt image's id comes from its digest; an image the program builds gets the hash of what goes
into the build (Dockerfile, build args, every file of the context that `.dockerignore` keeps), known
before the build runs, so object names and routing can use it in the same `pulumi up`.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path

DIGEST_PREFIX = "sha256-"
CONTEXT_PREFIX = "ctx-"
ID_HEX = 16
"""64 bits of the hash: unique across every version a Worker Deployment can hold (100)."""


def from_digest(digest: str) -> str:
    """`sha256:<64 hex>` (or `<repo>@sha256:...`) -> `sha256-<16 hex>`."""
    hex_part = digest.rsplit("sha256:", 1)[-1]
    if len(hex_part) != 64 or any(c not in "0123456789abcdef" for c in hex_part):
        raise ValueError(f"not a sha256 image digest: {digest!r}")
    return DIGEST_PREFIX + hex_part[:ID_HEX]


def digest_of(ref: str) -> str:
    """The `sha256:<hex>` part of `<repository>@sha256:<hex>`."""
    return ref.split("@", 1)[1] if "@" in ref else ref


def _ignore_rules(context: Path) -> list[tuple[bool, str]]:
    path = context / ".dockerignore"
    if not path.exists():
        return []
    rules: list[tuple[bool, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        rules.append((negate, line.lstrip("!").strip("/")))
    return rules


def _match(parts: list[str], pattern: list[str]) -> bool:
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_match(parts[i:], pattern[1:]) for i in range(len(parts) + 1))
    return (
        bool(parts) and fnmatch.fnmatchcase(parts[0], pattern[0]) and _match(parts[1:], pattern[1:])
    )


def _ignored(rel: str, rules: list[tuple[bool, str]]) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern also matches a parent directory."""
    parts = rel.split("/")
    ignored = False
    for negate, pattern in rules:
        split = pattern.split("/")
        if any(_match(parts[:end], split) for end in range(1, len(parts) + 1)):
            ignored = not negate
    return ignored


def context_files(context: Path) -> Iterator[Path]:
    """Files of a build context that `.dockerignore` keeps, in a stable order."""
    rules = _ignore_rules(context)
    for path in sorted(context.rglob("*")):
        if path.is_file() and not _ignored(path.relative_to(context).as_posix(), rules):
            yield path


def from_context(context: Path, dockerfile: Path, build_args: Mapping[str, str]) -> str:
    """`ctx-<16 hex>`: the hash of the Dockerfile, the build args and the kept context files."""
    digest = hashlib.sha256()
    digest.update(dockerfile.read_bytes())
    for key in sorted(build_args):
        digest.update(f"\0arg {key}={build_args[key]}".encode())
    for path in context_files(context):
        digest.update(f"\0file {path.relative_to(context).as_posix()}\0".encode())
        digest.update(path.read_bytes())
    return CONTEXT_PREFIX + digest.hexdigest()[:ID_HEX]
