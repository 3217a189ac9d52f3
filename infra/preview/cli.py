"""``python -m infra.preview up|destroy|list|gc``: per-PR preview stacks on the Automation API.

``up <N>``       create or select stack ``pr-<N>``, render ``Pulumi.pr-<N>.yaml`` from
                 ``Pulumi.preview.yaml``, record its lifetime (tags + namespace labels) and deploy
                 into namespace ``temporal-workers-pr-<N>``; a re-run with the same inputs changes
                 nothing.
``destroy <N>``  destroy the stack's resources, then remove the stack and its stack file.
``list``         preview stacks with age, TTL and expiry (``--json`` for machines).
``gc``           destroy the stacks past their recorded expiry, or with ``--ttl`` older than it.

Errors are one line on stderr, ``preview: ...``, exit code 2 for bad input, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

from infra.preview import stackfile
from infra.preview.cluster import check_reachable
from infra.preview.engine import PreviewEngine, utc_now
from infra.preview.model import (
    DEFAULT_TTL,
    Lifetime,
    PreviewError,
    PreviewStack,
    check_build_id,
    check_image_ref,
    describe_expiry,
    format_age,
    format_duration,
    format_stamp,
    namespace_name,
    parse_duration,
    parse_pr_number,
    plan_lifetime,
    stack_name,
)

POLICY_PROFILES = ("preview", "production", "none")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as a one-line :class:`PreviewError` (exit 2)."""

    def error(self, message: str) -> NoReturn:
        raise PreviewError(f"{message} (see: python -m infra.preview --help)", 2)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser (validation of values happens in :func:`parse_args`)."""
    parser = _Parser(
        prog="python -m infra.preview",
        description="Per-pull-request preview stacks pr-<N> of the temporal-workers project.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    up = sub.add_parser("up", help="create or update stack pr-<N> and deploy it")
    up.add_argument("pr", help="pull request number")
    up.add_argument("--image-ref", help="image by digest: <repository>@sha256:<64 hex>")
    up.add_argument("--build-id", help="image.buildId (Worker Versioning build id)")
    up.add_argument(
        "--ttl", help=f"lifetime, e.g. 72h, 3d (default {format_duration(DEFAULT_TTL)})"
    )
    up.add_argument("--renew", action="store_true", help="restart the TTL from now")
    up.add_argument(
        "--policy-profile",
        choices=POLICY_PROFILES,
        default="preview",
        help="run the policy pack with policies/config/<profile>.json (default preview)",
    )
    up.add_argument("--verbose", action="store_true", help="stream the engine's own output too")
    destroy = sub.add_parser("destroy", help="destroy stack pr-<N> and remove it")
    destroy.add_argument("pr", help="pull request number")
    destroy.add_argument("--verbose", action="store_true", help="stream the engine's own output")
    listing = sub.add_parser("list", help="list preview stacks with age and expiry")
    listing.add_argument("--json", action="store_true", help="print JSON")
    gc = sub.add_parser("gc", help="destroy expired preview stacks")
    gc.add_argument("--ttl", help="destroy stacks older than this (default: each stack's expiry)")
    gc.add_argument("--dry-run", action="store_true", help="only print what would be destroyed")
    gc.add_argument("--verbose", action="store_true", help="stream the engine's own output")
    return parser


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse and validate: PR numbers, durations and image references become typed values."""
    args = build_parser().parse_args(argv)
    if hasattr(args, "pr"):
        args.pr = parse_pr_number(args.pr)
    if getattr(args, "ttl", None) is not None:
        args.ttl = parse_duration(args.ttl)
    if getattr(args, "image_ref", None) is not None:
        args.image_ref = check_image_ref(args.image_ref)
    if getattr(args, "build_id", None) is not None:
        args.build_id = check_build_id(args.build_id)
    return args


def _say(line: str, out: TextIO = sys.stdout) -> None:
    print(line, file=out, flush=True)


def cmd_up(engine: PreviewEngine, args: argparse.Namespace) -> int:
    """Create or update ``pr-<N>`` and deploy it."""
    name, namespace = stack_name(args.pr), namespace_name(args.pr)
    engine.workspace()
    template = stackfile.load_template(engine.project_dir)
    server = check_reachable(engine.env)
    _say(f"{name}: cluster {server.url} reachable; preparing stack")
    stack = engine.select_or_create(args.pr)
    recorded = Lifetime.from_tags(engine.tags(name))
    now = utc_now().replace(microsecond=0)
    lifetime = plan_lifetime(args.pr, recorded, now, args.ttl, args.image_ref, args.renew)
    config = stackfile.render_config(template, lifetime, args.build_id)
    stackfile.write_stack_file(stackfile.stack_file(engine.project_dir, args.pr), config)
    engine.record(stack, lifetime)
    image = lifetime.image_ref or "the template's image"
    _say(
        f"{name}: deploying to namespace {namespace} (image {image}; "
        f"ttl {format_duration(lifetime.ttl)}, expires {format_stamp(lifetime.expires_at)})"
    )
    policy = None if args.policy_profile == "none" else args.policy_profile
    outcome = engine.up(stack, policy)
    changed = {op: n for op, n in sorted(outcome.changes.items()) if op != "same" and n}
    summary = ", ".join(f"{n} {op}" for op, n in changed.items()) or "no changes"
    queues = ", ".join(sorted((outcome.outputs.get("queues") or {}).keys())) or "-"
    _say(f"{name}: up to date in namespace {namespace} ({summary}); queues: {queues}")
    return 0


def _require(engine: PreviewEngine, pr: int) -> PreviewStack:
    stacks = engine.preview_stacks()
    found = next((s for s in stacks if s.pr == pr), None)
    if found is None:
        known = ", ".join(s.name for s in stacks) or "none"
        raise PreviewError(f"no preview stack {stack_name(pr)} (preview stacks: {known})")
    return found


def _destroy(engine: PreviewEngine, stack: PreviewStack, cluster_checked: bool) -> None:
    if stack.resource_count != 0 and not cluster_checked:
        check_reachable(engine.env)
    _say(f"{stack.name}: destroying namespace {stack.namespace} and its workloads")
    changes = engine.destroy(stack.name)
    deleted = changes.get("delete", 0)
    _say(f"{stack.name}: destroyed ({deleted} resources deleted); stack removed")


def cmd_destroy(engine: PreviewEngine, args: argparse.Namespace) -> int:
    """Destroy ``pr-<N>`` and remove the stack."""
    _destroy(engine, _require(engine, args.pr), cluster_checked=False)
    return 0


def list_rows(stacks: Sequence[PreviewStack]) -> list[dict[str, str]]:
    """The rows ``list`` prints (age, TTL and expiry relative to now)."""
    now = utc_now()
    rows = []
    for stack in stacks:
        age = stack.age(now)
        life = stack.lifetime
        rows.append(
            {
                "stack": stack.name,
                "namespace": stack.namespace,
                "age": format_age(age) if age is not None else "-",
                "ttl": format_duration(life.ttl) if life else "-",
                "expires": describe_expiry(stack, now),
                "resources": str(stack.resource_count if stack.resource_count is not None else "-"),
                "image": (life.image_ref if life and life.image_ref else "template"),
            }
        )
    return rows


def format_table(rows: Sequence[dict[str, str]]) -> str:
    """Rows as an aligned text table with upper-case headers."""
    if not rows:
        return "no preview stacks"
    headers = list(rows[0])
    widths = {h: max(len(h), *(len(r[h]) for r in rows)) for h in headers}
    lines = ["  ".join(h.upper().ljust(widths[h]) for h in headers).rstrip()]
    for row in rows:
        lines.append("  ".join(row[h].ljust(widths[h]) for h in headers).rstrip())
    return "\n".join(lines)


def cmd_list(engine: PreviewEngine, args: argparse.Namespace) -> int:
    """Print the preview stacks."""
    rows = list_rows(engine.preview_stacks())
    _say(json.dumps(rows, indent=2) if args.json else format_table(rows))
    return 0


def cmd_gc(engine: PreviewEngine, args: argparse.Namespace) -> int:
    """Destroy the stale preview stacks; the others are kept."""
    now = utc_now()
    stacks = engine.preview_stacks()
    stale = [s for s in stacks if s.is_stale(now, args.ttl)]
    rule = f"older than {format_duration(args.ttl)}" if args.ttl else "past their expiry"
    kept = [s.name for s in stacks if s not in stale]
    _say(
        f"gc: {len(stacks)} preview stacks, {len(stale)} {rule}"
        + (f": {', '.join(s.name for s in stale)}" if stale else "")
    )
    if args.dry_run or not stale:
        return 0
    failures = []
    checked = False
    for stack in stale:
        try:
            if stack.resource_count != 0 and not checked:
                check_reachable(engine.env)
                checked = True
            _destroy(engine, stack, cluster_checked=checked)
        except PreviewError as exc:
            failures.append(f"{stack.name}: {exc}")
            _say(f"{stack.name}: {exc}", sys.stderr)
    _say(f"gc: destroyed {len(stale) - len(failures)}; kept {', '.join(kept) or 'none'}")
    if failures:
        raise PreviewError(f"gc could not destroy {len(failures)} stack(s): {failures[0]}")
    return 0


COMMANDS = {"up": cmd_up, "destroy": cmd_destroy, "list": cmd_list, "gc": cmd_gc}


def main(argv: Sequence[str] | None = None, env: dict[str, str] | None = None) -> int:
    """Run one command; errors become one ``preview: ...`` line on stderr and an exit code."""
    try:
        args = parse_args(argv)
        engine = PreviewEngine(
            env=dict(os.environ if env is None else env), verbose=getattr(args, "verbose", False)
        )
        return COMMANDS[args.command](engine, args)
    except PreviewError as exc:
        _say(f"preview: {exc}", sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        _say("preview: interrupted", sys.stderr)
        return 130
