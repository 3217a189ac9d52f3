"""Helpers shared by the e2e tests: the engine runner and the fixture locations."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from tools import pulumi_env
from tools.local_cluster import LocalCluster

E2E_DIR = Path(__file__).resolve().parent
PROGRAMS_DIR = E2E_DIR / "programs"
POLICY_PACK_DIR = E2E_DIR / "policy_pack"


@dataclass
class Engine:
    """The real Pulumi CLI with its offline environment, pointed at the local cluster."""

    env: dict[str, str]
    cluster: LocalCluster

    def run(self, args: list[str], cwd: Path, timeout: float = 600.0) -> tuple[int, str]:
        """Run ``pulumi ARGS`` in ``cwd``; returns (exit code, combined output)."""
        proc = pulumi_env.run_pulumi(args, cwd=cwd, env=self.env, timeout=timeout)
        return proc.returncode, proc.stdout

    def ok(self, args: list[str], cwd: Path, timeout: float = 600.0) -> str:
        """Run ``pulumi ARGS`` and fail the test with its output unless it exits 0."""
        code, out = self.run(args, cwd, timeout)
        assert code == 0, f"pulumi {' '.join(args)} exited {code}:\n{out[-6000:]}"
        return out

    def new_stack(self, program: str, workdir: Path, stack: str = "e2e") -> Path:
        """Copy a program from tests/e2e/programs into ``workdir`` and create a stack for it."""
        target = workdir / program
        shutil.copytree(PROGRAMS_DIR / program, target)
        self.ok(["stack", "init", stack], target)
        return target


# What every engine run used to print: a provider taken from PATH, and an SDK asking for a newer
# provider than the one built.
PLUGIN_WARNINGS = ("from $PATH", "is expected to have version")


def assert_quiet_engine_run(output: str) -> None:
    """An engine run's output has no diagnostic: no warning (and no error) the engine keeps.

    The engine lists every diagnostic it keeps under "Diagnostics:"; a provider's progress lines
    while it waits for a Deployment ("warning: [MinimumReplicasUnavailable] …" until the pods are
    ready) are status, shown once and not kept, so they do not count.
    """
    at = output.find("Diagnostics:")
    assert at < 0, output[at : at + 3000]
    for text in PLUGIN_WARNINGS:
        assert text not in output, output[-6000:]
