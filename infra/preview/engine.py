"""The Pulumi side of preview stacks, through the Automation API (``pulumi.automation``).

The project is the repo root (``Pulumi.yaml``, program ``infra/``), driven as a local program
with a :class:`~pulumi.automation.LocalWorkspace`. Backend, passphrase and kubeconfig come from
the environment, as for the ``pulumi`` CLI: in CI from ``pulumi/actions`` and the workflow's
secrets, on this machine from ``source scripts/pulumi-env.sh`` (the kit's offline engine).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from infra.preview.model import (
    Lifetime,
    PreviewError,
    PreviewStack,
    pr_of_stack,
    stack_name,
)
from infra.preview.progress import EngineProgress

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
POLICY_PACK_DIR = PROJECT_DIR / "policies"
POLICY_CONFIG_DIR = POLICY_PACK_DIR / "config"


def find_cli(env: dict[str, str]) -> Path:
    """The ``pulumi`` binary on ``env``'s PATH (raises :class:`PreviewError` when missing)."""
    found = shutil.which("pulumi", path=env.get("PATH", ""))
    if not found:
        raise PreviewError(
            "pulumi CLI not found on PATH: install it (CI: pulumi/actions) or use the kit's own "
            "engine: `source scripts/pulumi-env.sh` (the make targets do that themselves)"
        )
    return Path(found)


def command_error_line(exc: auto.errors.CommandError) -> str:
    """The most telling line of a failed CLI command (its last ``error:`` line)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    errors = [line.strip() for line in text.splitlines() if line.strip().startswith("error:")]
    if errors:
        return errors[-1].removeprefix("error:").strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"


@dataclass(frozen=True)
class UpOutcome:
    """What an ``up`` did: resource changes by operation and the stack outputs."""

    changes: dict[str, int]
    outputs: dict[str, Any]

    @property
    def changed(self) -> bool:
        """True when anything other than ``same`` happened."""
        return any(count for op, count in self.changes.items() if op != "same")


@dataclass
class PreviewEngine:
    """Preview-stack operations on the project in ``project_dir`` with the CLI in ``env``."""

    env: dict[str, str]
    project_dir: Path = PROJECT_DIR
    verbose: bool = False
    _workspace: auto.LocalWorkspace | None = field(default=None, repr=False)

    def workspace(self) -> auto.LocalWorkspace:
        """The LocalWorkspace of the project (checks the CLI first)."""
        if self._workspace is None:
            cli = find_cli(self.env)
            root = str(cli.parent.parent) if cli.parent.name == "bin" else None
            try:
                command = auto.PulumiCommand(root=root, skip_version_check=True)
            except (OSError, auto.errors.CommandError) as exc:
                raise PreviewError(f"pulumi CLI at {cli} does not run: {exc}") from exc
            self._workspace = auto.LocalWorkspace(
                work_dir=str(self.project_dir), env_vars=self.env, pulumi_command=command
            )
        return self._workspace

    def _run(self, what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except auto.errors.CommandError as exc:
            raise PreviewError(f"{what} failed: {command_error_line(exc)}") from exc

    # -- listing ---------------------------------------------------------------------------------
    def stack_names(self) -> list[str]:
        """Names of the project's stacks in the backend."""
        summaries = self._run("pulumi stack ls", self.workspace().list_stacks)
        return [s.name for s in summaries]

    def preview_stacks(self) -> list[PreviewStack]:
        """Every ``pr-<N>`` stack with its recorded lifetime, ordered by PR number."""
        found = []
        summaries = self._run("pulumi stack ls", self.workspace().list_stacks)
        for summary in summaries:
            pr = pr_of_stack(summary.name)
            if pr is None:
                continue
            last = summary.last_update
            if last is not None and last.tzinfo is None:
                last = last.replace(tzinfo=UTC)
            found.append(
                PreviewStack(
                    name=summary.name,
                    pr=pr,
                    lifetime=Lifetime.from_tags(self.tags(summary.name)),
                    last_update=last,
                    resource_count=summary.resource_count,
                )
            )
        return sorted(found, key=lambda s: s.pr)

    def find(self, pr: int) -> PreviewStack | None:
        """The preview stack of ``pr``, or None."""
        return next((s for s in self.preview_stacks() if s.pr == pr), None)

    def tags(self, name: str) -> dict[str, str]:
        """A stack's tags (empty when the backend keeps none)."""
        raw = self._run(f"pulumi stack tag ls ({name})", self.workspace().list_tags, name)
        return {str(k): str(v) for k, v in (raw or {}).items()}

    # -- changes ---------------------------------------------------------------------------------
    def select_or_create(self, pr: int) -> auto.Stack:
        """Create or select ``pr-<N>`` (idempotent)."""
        return self._run(
            f"creating stack {stack_name(pr)}",
            auto.Stack.create_or_select,
            stack_name(pr),
            self.workspace(),
        )

    def record(self, stack: auto.Stack, lifetime: Lifetime) -> None:
        """Write the lifetime into the stack's tags (only the tags that differ)."""
        current = self.tags(stack.name)
        for key, value in lifetime.tags().items():
            if current.get(key) != value:
                self._run(
                    f"pulumi stack tag set {key}", stack.workspace.set_tag, stack.name, key, value
                )

    def up(self, stack: auto.Stack, policy_config: str | None) -> UpOutcome:
        """``pulumi up`` with progress, optionally with the policy pack and a profile's config."""
        progress = EngineProgress()
        policy: dict[str, Any] = {}
        if policy_config is not None:
            policy = {
                "policy_packs": [str(POLICY_PACK_DIR)],
                "policy_pack_configs": [str(POLICY_CONFIG_DIR / f"{policy_config}.json")],
            }
        try:
            result = stack.up(
                on_event=progress,
                on_output=self._echo if self.verbose else None,
                color="never",
                **policy,
            )
        except auto.errors.CommandError as exc:
            reason = progress.first_error() or command_error_line(exc)
            raise PreviewError(f"pulumi up of {stack.name} failed: {reason}") from exc
        changes = {
            str(getattr(op, "value", op)): n
            for op, n in (result.summary.resource_changes or {}).items()
        }
        outputs = {key: value.value for key, value in result.outputs.items()}
        return UpOutcome(changes=changes, outputs=outputs)

    def destroy(self, name: str) -> dict[str, int]:
        """``pulumi destroy`` with progress, then remove the stack and its stack file."""
        stack = self._run(f"selecting stack {name}", auto.Stack.select, name, self.workspace())
        progress = EngineProgress()
        try:
            result = stack.destroy(
                on_event=progress,
                on_output=self._echo if self.verbose else None,
                color="never",
            )
        except auto.errors.CommandError as exc:
            reason = progress.first_error() or command_error_line(exc)
            raise PreviewError(f"pulumi destroy of {name} failed: {reason}") from exc
        self._run(f"pulumi stack rm {name}", self.workspace().remove_stack, name)
        return {
            str(getattr(op, "value", op)): n
            for op, n in (result.summary.resource_changes or {}).items()
        }

    @staticmethod
    def _echo(line: str) -> None:
        print(line, flush=True)


def utc_now() -> datetime:
    """The current time, UTC-aware."""
    return datetime.now(UTC)
