"""Benchmark of the worker image: size against a naive single-stage build, and code-only rebuild
time against a cold build.

Run from the repo root: `.venv/bin/python bench/bench_image.py` (or `make bench-image`). It starts
the project's Docker engine, makes the base images and the wheelhouse if missing (the naive build's
base, with compilers, takes a few minutes the first time), builds in a copy of worker_image/ under
bench/.image-bench/, prints a table and exits 1 if a target is missed:

- final image size <= 0.4 x the naive image, and <= base image + 80 MB;
- code-only rebuild (one source file changed, dependency layer from the cache) <= 0.15 x a cold
  build (`--no-cache`).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support.docker_engine import (  # noqa: E402  (the repo root goes on sys.path first)
    WHEELHOUSE_NAME,
    DockerEngine,
    copy_context,
    engine_up,
    ensure_base_image,
    ensure_wheelhouse,
)

WORK_DIR = REPO / "bench" / ".image-bench"
NAIVE_DOCKERFILE = REPO / "bench" / "Dockerfile.naive"
MB = 1_000_000  # docker reports sizes in decimal megabytes
SIZE_RATIO_TARGET = 0.4
OVER_BASE_TARGET_MB = 80.0
REBUILD_RATIO_TARGET = 0.15


@dataclass(frozen=True)
class BuildTimes:
    """Wall-clock seconds of a cold build and of code-only rebuilds (median of several)."""

    cold: float
    code_only: list[float]

    @property
    def code_only_median(self) -> float:
        """The median code-only rebuild time."""
        return statistics.median(self.code_only)


def touch_code(context: Path) -> None:
    """A code-only change: a new line in one module of the sample app."""
    module = context / "orders_app" / "__init__.py"
    module.write_text(module.read_text() + f"# bench change {uuid.uuid4().hex}\n")


def measure(
    engine: DockerEngine,
    context: Path,
    tag: str,
    build_args: dict[str, str],
    dockerfile: Path | None,
    rebuilds: int,
) -> BuildTimes:
    """Time one cold build (--no-cache) and `rebuilds` code-only rebuilds of the same tag."""
    cold = engine.build(context, tag, build_args, dockerfile=dockerfile, no_cache=True).seconds
    times = []
    for _ in range(rebuilds):
        touch_code(context)
        times.append(engine.build(context, tag, build_args, dockerfile=dockerfile).seconds)
    return BuildTimes(cold, times)


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def main(argv: list[str] | None = None) -> int:
    """Build, measure, print the table; exit code 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuilds", type=int, default=3, help="code-only rebuilds to time")
    args = parser.parse_args(argv)

    engine = engine_up()
    base = ensure_base_image(engine, "runtime")
    naive_base = ensure_base_image(engine, "naive")
    ensure_wheelhouse()
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    WORK_DIR.mkdir(parents=True)
    ours_ctx = copy_context(WORK_DIR / "context")
    naive_ctx = copy_context(WORK_DIR / "context-naive")

    run_id = uuid.uuid4().hex[:8]
    ours_tag, naive_tag = f"twk-bench:ours-{run_id}", f"twk-bench:naive-{run_id}"
    ours_args = {
        "BASE_IMAGE": base,
        "WHEELHOUSE": WHEELHOUSE_NAME,
        "BUILD_ID": f"bench-{run_id}",
        "VERSION": "0.0.0-bench",
        "REVISION": "bench",
        "SOURCE": "bench",
    }
    naive_args = {"BASE_IMAGE": naive_base, "WHEELHOUSE": WHEELHOUSE_NAME}
    try:
        ours = measure(engine, ours_ctx, ours_tag, ours_args, None, args.rebuilds)
        naive = measure(engine, naive_ctx, naive_tag, naive_args, NAIVE_DOCKERFILE, args.rebuilds)
        ours_size = engine.image_size(ours_tag) / MB
        naive_size = engine.image_size(naive_tag) / MB
        base_size = engine.image_size(base) / MB
    finally:
        engine.remove_image(ours_tag)
        engine.remove_image(naive_tag)
        shutil.rmtree(WORK_DIR, ignore_errors=True)

    size_ratio = ours_size / naive_size
    over_base = ours_size - base_size
    rebuild_ratio = ours.code_only_median / ours.cold
    naive_ratio = naive.code_only_median / naive.cold
    rows = [
        ("base image (debootstrap bookworm + python3)", f"{base_size:8.1f} MB", ""),
        ("naive single-stage image", f"{naive_size:8.1f} MB", ""),
        ("worker image (multi-stage)", f"{ours_size:8.1f} MB", ""),
        (
            "  worker / naive",
            f"{size_ratio:8.2f} x",
            f"<= {SIZE_RATIO_TARGET} x  {verdict(size_ratio <= SIZE_RATIO_TARGET)}",
        ),
        (
            "  worker - base",
            f"{over_base:8.1f} MB",
            f"<= {OVER_BASE_TARGET_MB:.0f} MB  {verdict(over_base <= OVER_BASE_TARGET_MB)}",
        ),
        ("worker cold build (--no-cache)", f"{ours.cold:8.1f} s", ""),
        (
            f"worker code-only rebuild (median of {len(ours.code_only)})",
            f"{ours.code_only_median:8.1f} s",
            "",
        ),
        (
            "  code-only / cold",
            f"{rebuild_ratio:8.2f} x",
            f"<= {REBUILD_RATIO_TARGET} x  {verdict(rebuild_ratio <= REBUILD_RATIO_TARGET)}",
        ),
        ("naive cold build (--no-cache)", f"{naive.cold:8.1f} s", ""),
        (
            f"naive code-only rebuild (median of {len(naive.code_only)})",
            f"{naive.code_only_median:8.1f} s",
            f"({naive_ratio:.2f} x cold)",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>11}  target")
    print(f"{'-' * width}  {'-' * 11}  {'-' * 18}")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>11}  {target}".rstrip())
    ok = (
        size_ratio <= SIZE_RATIO_TARGET
        and over_base <= OVER_BASE_TARGET_MB
        and rebuild_ratio <= REBUILD_RATIO_TARGET
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
