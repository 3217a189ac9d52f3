"""tools/build.sh on a new machine: what it takes from the Go module cache resolves from empty.

A green CI once hid a toolchain build that failed on every new machine: a file was derived from a
module before anything had downloaded it, which only a warm module cache forgave. These tests run
``tools/build.sh --resolve`` (an empty temporary module cache, downloads only, no compilation), so
that class of bug fails ``make test`` on any machine, warm or cold, in about a minute.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.tools

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "tools" / "build.sh"
GROUPS = sorted(p.parent.name for p in (REPO / "tools").glob("*/go.mod"))


def _resolve(script: Path, *groups: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script), "--resolve", *groups],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def _copy_with(tmp_path: Path, group: str, old: str, new: str) -> Path:
    """A copy of build.sh and one group's go.mod/go.sum with ``old`` replaced by ``new`` once."""
    tools = tmp_path / "tools"
    (tools / group).mkdir(parents=True)
    for name in ("go.mod", "go.sum"):
        shutil.copy(REPO / "tools" / group / name, tools / group / name)
    text = BUILD_SCRIPT.read_text()
    assert text.count(old) == 1, f"{old!r} must occur once in tools/build.sh"
    script = tools / "build.sh"
    script.write_text(text.replace(old, new))
    return script


def test_every_group_resolves_from_an_empty_module_cache() -> None:
    proc = _resolve(BUILD_SCRIPT)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for group in GROUPS:
        assert any(line.startswith(f"[tools] {group}: module graph resolves") for line in lines), (
            group,
            proc.stdout,
        )
    # The files the build derives from modules, each produced and non-empty (checked by the script).
    derived = " ".join(lines)
    for name in (
        "schema-embed.json",
        "terraform-mapping-embed.json",
        "pulumi-language-python-exec",
        "pulumi-resource-pulumi-python",
        "kwok-stages.yaml",
    ):
        assert name in derived, proc.stdout


def test_a_missing_module_file_is_one_line_naming_the_module_and_the_file(
    tmp_path: Path,
) -> None:
    script = _copy_with(
        tmp_path,
        "kwok",
        "pod/fast/pod-delete.yaml",
        "pod/fast/pod-delete.yaml pod/no-such-stage.yaml",
    )
    proc = _resolve(script, "kwok")
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [proc.stderr.strip()], "exactly one line, no traceback"
    assert re.fullmatch(
        r"tools/build\.sh: kwok: module sigs\.k8s\.io/kwok has no file "
        r"kustomize/stage/pod/no-such-stage\.yaml \(missing or empty in \S+\)",
        proc.stderr.strip(),
    ), proc.stderr


def test_the_check_fails_on_a_derivation_that_does_not_download_first(tmp_path: Path) -> None:
    """The original bug (`go list -m` on a module nothing has downloaded yet) fails the check."""
    script = _copy_with(tmp_path, "kwok", 'go mod download "$module" 2>&1', "true")
    proc = _resolve(script, "kwok")
    assert proc.returncode == 1
    assert re.fullmatch(
        r"tools/build\.sh: kwok: module sigs\.k8s\.io/kwok has no directory in \S+",
        proc.stderr.strip(),
    ), proc.stderr


def test_an_unknown_group_is_one_line() -> None:
    proc = _resolve(BUILD_SCRIPT, "no-such-group")
    assert (proc.returncode, proc.stderr.strip()) == (
        1,
        "tools/build.sh: unknown group no-such-group",
    )
