"""Session fixtures of the stack e2e tests, loaded with ``pytest_plugins``.

The fixtures of ``tests/e2e/conftest.py`` (tools, one control plane, the engine env) are reused;
these add the project's Docker engine with its base image and wheelhouse, a registry on a free
127.0.0.1 port holding the base image, and a BuildKit daemon the docker-build provider builds with.
Each is started once per session and stopped at its end (the engine only if started here).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import Engine
from tests.e2e.stack_support import KitProject
from tools import local_stack
from tools.pulumi_env import REPO_ROOT

DOCKER_ENGINE = str(REPO_ROOT / "scripts" / "docker-engine.sh")


@dataclass
class DockerEngine:
    """The project's Docker engine, ready to build the worker image offline."""

    host: str
    started_here: bool


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    """Engine up, base image and wheelhouse made (cached); an engine started here is stopped."""
    started = subprocess.run([DOCKER_ENGINE, "status"], capture_output=True).returncode != 0
    if started:
        subprocess.run([DOCKER_ENGINE, "up"], check=True, capture_output=True)
    try:
        subprocess.run(
            [str(REPO_ROOT / "scripts" / "base-image.sh"), "runtime"],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [str(REPO_ROOT / "scripts" / "wheelhouse.sh")],
            check=True,
            capture_output=True,
            env=dict(os.environ, PYTHON=str(REPO_ROOT / ".venv" / "bin" / "python")),
        )
        yield DockerEngine(host=local_stack.DOCKER_HOST, started_here=started)
    finally:
        if started:
            subprocess.run([DOCKER_ENGINE, "down"], check=False, capture_output=True)


@pytest.fixture(scope="session")
def registry(
    docker_engine: DockerEngine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A registry on a free 127.0.0.1 port holding the local base image; ``127.0.0.1:<port>``."""
    port = local_stack.free_port()
    proc = local_stack.start_registry(tmp_path_factory.mktemp("registry"), port)
    try:
        local_stack.push_base_image(f"127.0.0.1:{port}")
        yield f"127.0.0.1:{port}"
    finally:
        local_stack.stop_pid(proc.pid)


@pytest.fixture(scope="session")
def buildkit(registry: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A BuildKit daemon the docker-build provider uses; yields the DOCKER_CONFIG naming it."""
    work = tmp_path_factory.mktemp("buildkit")
    proc, endpoint = local_stack.start_buildkitd(work, [registry])
    try:
        yield local_stack.write_buildx_store(work / "docker-config", endpoint)
    finally:
        local_stack.stop_pid(proc.pid)


KitFactory = Callable[..., KitProject]


@pytest.fixture
def kit(engine: Engine, tmp_path: Path) -> Iterator[KitFactory]:
    """``kit(stack, stack_file, edit=None, docker_config=None)`` -> a KitProject in ``tmp_path``.

    Its stacks are removed from the session's backend at teardown, so stack names can repeat.
    """
    made: list[KitProject] = []

    def make(
        stack: str,
        stack_file: Path,
        edit: Callable[[dict[str, Any]], None] | None = None,
        docker_config: Path | None = None,
    ) -> KitProject:
        project = KitProject(engine, tmp_path, stack, stack_file, edit, docker_config)
        made.append(project)
        return project

    yield make
    for project in made:
        project.remove()
