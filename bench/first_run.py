"""Benchmark: the first run on a new machine, with every cache of the toolchain empty.

    .venv/bin/python bench/first_run.py [--ci] [--keep]   # or: make bench-first-run

Clones the committed HEAD into a temporary directory and runs, with an empty Go module cache
(GOMODCACHE), Go build cache (GOCACHE), tools cache (TWK_TOOLS_DIR) and PULUMI_HOME (repo-local,
so empty in the clone), ``bash tools/build.sh`` (what ``make tools`` runs), or with ``--ci`` the
whole ``bash .ci/run`` (lint, tools, every test tier). Prints the wall time of each tools group
(the groups build one after the other), the total and the targets:
cold ``make tools`` <= 25 min and cold ``.ci/run`` <= 45 min on 2 cores. The caches live in the
temporary directory and are removed afterwards (``--keep`` keeps them and prints where).

It downloads about 4 GB of Go modules and compiles for about half an hour: not part of
``make bench``. Docker data, apt packages and pip's cache stay as they are on this machine; a
really new machine also installs docker.io and debootstrap (about 3 minutes, measured once).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS_TARGET_S = 25 * 60
CI_TARGET_S = 45 * 60
GROUP_LINE = re.compile(r"^\[tools\] (?P<group>[\w-]+): built in (?P<seconds>\d+) s$")


def _clean(path: Path) -> None:
    """Remove a tree that may hold read-only module files."""
    if path.exists():
        subprocess.run(["chmod", "-R", "u+w", str(path)], check=False)
        shutil.rmtree(path, ignore_errors=True)


def run(ci: bool, keep: bool) -> int:
    """Run the cold first run once and print its table; returns the command's exit code."""
    scratch = Path(tempfile.mkdtemp(prefix="twk-first-run-"))
    clone = scratch / "main"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    env = {
        **os.environ,
        "GOMODCACHE": str(scratch / "gomodcache"),
        "GOCACHE": str(scratch / "gocache"),
        "TWK_TOOLS_DIR": str(scratch / "tools"),
        "CI": "true",
    }
    env.pop("PULUMI_HOME", None)
    cmd = ["bash", ".ci/run"] if ci else ["bash", "tools/build.sh"]
    began = time.monotonic()
    groups: dict[str, int] = {}
    proc = subprocess.Popen(
        cmd, cwd=clone, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    tools_done = None
    tail: list[str] = []
    summary = ""
    for line in proc.stdout:
        tail = [*tail[-40:], line]
        if re.match(r"^=+ .*\b(passed|failed)\b.* in [\d.]+s", line):
            summary = line.strip("= \n")
        match = GROUP_LINE.match(line.strip())
        if match:
            groups[match["group"]] = int(match["seconds"])
        ready = re.match(r"^\[tools\] \S+ ready in (\d+) s$", line.strip())
        if ready and tools_done is None:  # the build's own total (later calls find it cached)
            tools_done = float(ready.group(1))
    code = proc.wait()
    total = time.monotonic() - began
    if code != 0:
        sys.stdout.write("".join(tail))
    print("\n| step | wall time | target |\n|---|---:|---|")
    for group, seconds in groups.items():
        print(f"| tools: {group} | {seconds} s | |")
    tools_s = tools_done if tools_done is not None else (total if not ci else None)
    if tools_s is not None:
        met = "met" if tools_s <= TOOLS_TARGET_S else "MISSED"
        print(f"| **`make tools`, cold** | **{tools_s / 60:.1f} min** | ≤ 25 min: {met} |")
    if ci:
        met = "met" if total <= CI_TARGET_S else "MISSED"
        print(
            f"| **`bash .ci/run`, cold** (exit {code}) | **{total / 60:.1f} min** "
            f"| ≤ 45 min: {met} |"
        )
    if summary:
        print(f"\npytest: {summary}")
    if keep:
        print(f"\ncaches kept in {scratch}")
    else:
        _clean(scratch)
    return code


def main() -> int:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ci", action="store_true", help="run bash .ci/run, not only the tools")
    parser.add_argument("--keep", action="store_true", help="keep the clone and its caches")
    args = parser.parse_args()
    return run(args.ci, args.keep)


if __name__ == "__main__":
    sys.exit(main())
