"""The worker image builds, carries its metadata, caches dependencies, and ships nothing extra."""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
import uuid
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.image.conftest import PLANTED_TEST_FILES, BuiltImage, image_build_args
from tests.support.docker_engine import DockerEngine
from tests.support.local_index import local_index

pytestmark = pytest.mark.image

# The builder's dependency step: the one RUN that installs requirements.txt into the venv.
DEPENDENCY_STEP = "RUN --mount=type=cache,target=/root/.cache/pip"
COMPILER = re.compile(
    r"^(usr/)?(local/)?s?bin/"
    r"(gcc|cc|c\+\+|g\+\+|cpp|clang|clang\+\+|tcc|x86_64-linux-gnu-(gcc|g\+\+|cpp))(-\d+)?$"
    r"|(^|/)cc1(plus)?$"
    r"|^usr/(local/)?lib/gcc/[^/]+/\d+/."
)


def compiler_paths(names: Iterable[str]) -> list[str]:
    """Paths among names that are C compilers or their drivers."""
    return [n for n in names if COMPILER.search(n.rstrip("/"))]


def pip_cache_paths(names: Iterable[str]) -> list[str]:
    """Paths among names that belong to a pip cache."""
    return [n for n in names if re.search(r"(^|/)\.cache/pip(/|$)", n) or "/pip-http" in n]


def paths_of_tests(names: Iterable[str]) -> list[str]:
    """Paths among names below /app that are tests (directories, modules or conftest)."""
    app = [n for n in names if n.startswith("app/") and "/site-packages/" not in n]
    pattern = re.compile(r"(^|/)(tests?/|test_[^/]*\.py$|[^/]*_test\.py$|conftest\.py$)")
    return [n for n in app if pattern.search(n)]


def image_file_names(engine: DockerEngine, image: str) -> list[str]:
    """Every path in the image's filesystem, read from `docker export` (no code runs in it)."""
    container = engine.docker("create", "--network=host", image).stdout.strip()
    try:
        raw = subprocess.run(
            [engine.cli, "export", container],
            env=engine.env,
            capture_output=True,
            check=True,
            timeout=300,
        ).stdout
    finally:
        engine.docker("rm", "--force", container, check=False)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        return [m.name.removeprefix("./") for m in tar.getmembers()]


def test_image_builds_with_metadata_and_runtime_settings(
    docker_engine: DockerEngine, worker_image: BuiltImage
) -> None:
    info = docker_engine.inspect(worker_image.tag)
    config = info["Config"]
    args = worker_image.build_args
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["python", "-m", "workerkit"]
    assert set(config["ExposedPorts"]) == {"8080/tcp", "9090/tcp"}
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["WORKER_IMAGE_BUILD_ID"] == args["BUILD_ID"]
    assert env["PYTHONPATH"] == "/app/src"
    assert env["PATH"].startswith("/app/venv/bin:")
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == args["VERSION"]
    assert labels["org.opencontainers.image.revision"] == args["REVISION"]
    assert labels["org.opencontainers.image.source"] == args["SOURCE"]
    assert labels["io.temporal.worker.build-id"] == args["BUILD_ID"]
    # The runtime stage starts from the base image: its layers are the image's first layers.
    base_layers = docker_engine.layers(worker_image.base_image)
    assert docker_engine.layers(worker_image.tag)[: len(base_layers)] == base_layers


def test_python_on_path_is_the_venv_and_workerkit_imports_from_any_cwd(
    docker_engine: DockerEngine, worker_image: BuiltImage
) -> None:
    probe = (
        "import sys, workerkit, orders_app.queues as q, temporalio;"
        "print(sys.prefix, workerkit.__file__, q.orders.__class__.__name__, temporalio.__name__)"
    )
    proc = docker_engine.run(
        worker_image.tag,
        ["-c", probe],
        ["--entrypoint", "python", "--workdir", "/", "--read-only"],
    )
    assert proc.returncode == 0, proc.stderr
    prefix, module, app_class, sdk = proc.stdout.split()
    assert prefix == "/app/venv"
    assert module == "/app/src/workerkit/__init__.py"
    assert app_class == "WorkerApp" and sdk == "temporalio"
    usage = docker_engine.run(worker_image.tag, ["no-such-command"], ["--read-only"])
    assert usage.returncode == 2 and "usage: python -m workerkit" in usage.stderr


def test_code_only_change_reuses_dependency_layer(
    docker_engine: DockerEngine, worker_image: BuiltImage
) -> None:
    marker = worker_image.context / "orders_app" / "__init__.py"
    original = marker.read_text()
    tag = f"twk-worker-test:code-{uuid.uuid4().hex[:8]}"
    try:
        marker.write_text(original + f"# code-only change {uuid.uuid4().hex}\n")
        args = image_build_args(worker_image.base_image, f"rebuild-{uuid.uuid4().hex[:8]}")
        rebuild = docker_engine.build(worker_image.context, tag, args)
        # Build output: the dependency install came from the cache, the code copy did not.
        assert rebuild.step_cached(DEPENDENCY_STEP), rebuild.step_lines(DEPENDENCY_STEP)
        assert not rebuild.step_cached("COPY orders_app"), rebuild.step_lines("COPY orders_app")
        # Layer digests: everything below the code layers is byte-for-byte the same.
        before, after = docker_engine.layers(worker_image.tag), docker_engine.layers(tag)
        venv_index = len(docker_engine.layers(worker_image.base_image)) + 1
        assert before[: venv_index + 1] == after[: venv_index + 1]
        assert before != after
        assert docker_engine.inspect(tag)["Id"] != docker_engine.inspect(worker_image.tag)["Id"]
    finally:
        marker.write_text(original)
        docker_engine.remove_image(tag)


def test_image_has_no_compiler_no_pip_cache_no_test_files(
    docker_engine: DockerEngine, worker_image: BuiltImage
) -> None:
    names = image_file_names(docker_engine, worker_image.tag)
    assert "app/src/workerkit/__main__.py" in names  # the listing is real
    assert any(n.startswith("app/venv/lib/python3.11/site-packages/temporalio/") for n in names)
    assert compiler_paths(names) == []
    assert pip_cache_paths(names) == []
    assert paths_of_tests(names) == []
    for planted in PLANTED_TEST_FILES:
        assert (worker_image.context / planted).exists()
        assert f"app/src/{planted}" not in names
    # The runtime venv has no installer either: nothing gets installed at run time.
    assert not [n for n in names if re.match(r"app/venv/lib/python3\.11/site-packages/pip/", n)]
    assert not [n for n in names if n.startswith("app/venv/bin/pip")]


def test_content_checks_catch_what_they_look_for() -> None:
    """The checks above can fail: they flag typical offenders."""
    names = [
        "usr/bin/gcc-12",
        "usr/bin/cc",
        "usr/lib/gcc/x86_64-linux-gnu/12/cc1",
        "root/.cache/pip/http-v2/a/b",
        "app/src/orders_app/tests/test_x.py",
        "app/src/workerkit/conftest.py",
        "usr/bin/python3.11",
        "app/venv/lib/python3.11/site-packages/google/protobuf/internal/testing_refleaks.py",
    ]
    assert compiler_paths(names) == names[:3]
    lto = "usr/lib/gcc/x86_64-linux-gnu/12/liblto_plugin.so"
    assert compiler_paths(["usr/share/gcc/python/libstdcxx", lto]) == [lto]
    assert pip_cache_paths(names) == [names[3]]
    assert paths_of_tests(names) == names[4:6]


def test_index_path_installs_from_an_index_without_wheelhouse(
    docker_engine: DockerEngine, worker_image: BuiltImage, wheelhouse: Path
) -> None:
    """WHEELHOUSE empty: the builder installs from a package index (here a local mirror)."""
    tag = f"twk-worker-test:index-{uuid.uuid4().hex[:8]}"
    try:
        with local_index(wheelhouse) as index:
            args = image_build_args(worker_image.base_image, f"index-{uuid.uuid4().hex[:8]}")
            args["WHEELHOUSE"] = ""
            args["PIP_INDEX_URL"] = index.url
            build = docker_engine.build(worker_image.context, tag, args)
        assert not build.step_cached(DEPENDENCY_STEP)
        assert f"Looking in indexes: {index.url}" in build.log
        assert "/simple/temporalio/" in index.requests
        assert any(r.startswith("/files/temporalio-1.35.0-") for r in index.requests)
        probe = docker_engine.run(
            tag,
            ["-c", "import temporalio.worker, workerkit; print('ok')"],
            ["--entrypoint", "python", "--read-only"],
        )
        assert (probe.returncode, probe.stdout.strip()) == (0, "ok"), probe.stderr
    finally:
        docker_engine.remove_image(tag)
