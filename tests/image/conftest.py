"""Fixtures of the image tier: the project's Docker engine, base image, wheelhouse and the image.

Nothing here skips: a missing part is installed or made by the project's own scripts (the engine by
scripts/docker-engine.sh, the debootstrap base image by scripts/base-image.sh, the wheelhouse by
scripts/wheelhouse.sh). The first run on a fresh machine spends a few minutes on the base image;
later runs find it cached in the engine's data root.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.docker_engine import (
    DEFAULT_SOCK,
    WHEELHOUSE_NAME,
    BuildResult,
    DockerEngine,
    copy_context,
    engine_down,
    engine_up,
    ensure_base_image,
    ensure_wheelhouse,
)
from tests.support.temporal_dev import DevServer, temporal_cli
from tests.support.worker_containers import WorkerContainer, start_worker_container

# Files that must never reach the image; planted in the test's copy of the build context so the
# .dockerignore is really put to the test.
PLANTED_TEST_FILES = (
    "orders_app/tests/test_planted.py",
    "orders_app/test_planted_module.py",
    "workerkit/conftest.py",
)


@dataclass(frozen=True)
class BuiltImage:
    """The image under test and how it was built."""

    tag: str
    build: BuildResult
    context: Path
    base_image: str
    build_args: Mapping[str, str]


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    """The project's engine on its own socket, installed and started if needed; an engine this
    session started is stopped at its end (one that was already up is left running)."""
    was_up = DockerEngine(sock=os.environ.get("TWK_DOCKER_SOCK", DEFAULT_SOCK)).answers()
    engine = engine_up()
    yield engine
    if not was_up:
        engine_down(engine)


@pytest.fixture(scope="session")
def base_image(docker_engine: DockerEngine) -> str:
    """Tag of the local debootstrap base image (built once, then cached)."""
    return ensure_base_image(docker_engine, "runtime")


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    """The host-prepared wheelhouse inside the build context."""
    return ensure_wheelhouse()


@pytest.fixture(scope="session")
def image_context(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    """A copy of worker_image/ (wheelhouse included) that tests may change, with planted tests."""
    context = copy_context(tmp_path_factory.mktemp("image") / "context")
    assert (context / WHEELHOUSE_NAME).is_dir(), "the wheelhouse did not reach the context copy"
    for relative in PLANTED_TEST_FILES:
        planted = context / relative
        planted.parent.mkdir(parents=True, exist_ok=True)
        planted.write_text("def test_planted() -> None:\n    assert True\n")
    return context


def image_build_args(base_image: str, build_id: str) -> dict[str, str]:
    """The build args the Pulumi program passes, with the hermetic wheelhouse."""
    return {
        "BASE_IMAGE": base_image,
        "WHEELHOUSE": WHEELHOUSE_NAME,
        "BUILD_ID": build_id,
        "VERSION": "9.8.7-test",
        "REVISION": "0123456789abcdef0123456789abcdef01234567",
        "SOURCE": "https://example.invalid/temporal-workers-kit",
    }


@pytest.fixture(scope="session")
def worker_image(
    docker_engine: DockerEngine, base_image: str, image_context: Path
) -> Iterator[BuiltImage]:
    """The worker image built from the context copy; its tag is removed at the end (the build
    cache stays, so the next session's build is fast)."""
    suffix = uuid.uuid4().hex[:8]
    tag = f"twk-worker-test:{suffix}"
    args = image_build_args(base_image, f"test-build-{suffix}")
    build = docker_engine.build(image_context, tag, args)
    yield BuiltImage(tag, build, image_context, base_image, args)
    docker_engine.remove_image(tag)


StartContainer = Callable[..., WorkerContainer]


@pytest.fixture(scope="session")
def image_namespace(temporal_server: DevServer) -> str:
    """A namespace of the image tier's own on the session's dev server: the sample app's queue
    names are fixed, so this keeps work of other tiers' tests away from the containers."""
    name = f"image-tier-{uuid.uuid4().hex[:8]}"
    proc = subprocess.run(
        [temporal_cli(), "operator", "namespace", "create", "--address", temporal_server.address,
         "--namespace", name, "--retention", "24h"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, f"namespace create failed: {proc.stdout}{proc.stderr}"
    return name


@pytest.fixture
def start_container(
    docker_engine: DockerEngine,
    worker_image: BuiltImage,
    temporal_server: DevServer,
    image_namespace: str,
) -> Iterator[StartContainer]:
    """Start worker containers of the image against the session's dev server (in the tier's
    namespace); all are removed at teardown."""
    started: list[WorkerContainer] = []

    def _start(
        task_queue: str,
        app: str | None = None,
        settings: Mapping[str, str] | None = None,
        mounts: Mapping[str, str] | None = None,
    ) -> WorkerContainer:
        container = start_worker_container(
            docker_engine,
            worker_image.tag,
            temporal_server.address,
            task_queue,
            app or f"orders_app.queues:{task_queue}",
            settings,
            mounts,
            namespace=image_namespace,
        )
        started.append(container)
        return container

    yield _start
    for container in started:
        container.remove()
