"""The project's own Docker engine, base image and wheelhouse, driven from tests and benchmarks.

Everything goes through the project's scripts (`scripts/docker-engine.sh`, `scripts/base-image.sh`,
`scripts/wheelhouse.sh`), so a fresh machine gets the engine installed and started, and the base
image and wheelhouse made, exactly as `make image` would. Every build and container uses the host
network (the engine has no bridge); containers only ever talk to 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
WORKER_IMAGE_DIR = REPO / "worker_image"
SCRIPTS = REPO / "scripts"
DEFAULT_SOCK = "/run/twk-docker/docker.sock"
# Debian's client: it drives the engine's built-in BuildKit without the buildx plugin.
DEFAULT_CLI = "/usr/bin/docker"
WHEELHOUSE_NAME = ".wheelhouse"


class DockerError(RuntimeError):
    """A docker command failed; the message carries its output."""


@dataclass(frozen=True)
class BuildResult:
    """One `docker build`: its plain-progress log and how long it took."""

    tag: str
    log: str
    seconds: float

    def step_lines(self, needle: str) -> list[str]:
        """The progress lines of the steps whose header contains `needle`, header included.

        BuildKit's plain progress names every vertex `#N [stage i/n] INSTRUCTION` and reports its
        lines (including `#N CACHED` or `#N DONE`) under the same `#N` prefix.
        """
        ids = {
            line.split(" ", 1)[0]
            for line in self.log.splitlines()
            if line.startswith("#") and needle in line
        }
        return [line for line in self.log.splitlines() if line.split(" ", 1)[0] in ids]

    def step_cached(self, needle: str) -> bool:
        """True if the step(s) whose header contains `needle` were all answered from the cache."""
        lines = self.step_lines(needle)
        if not lines:
            raise AssertionError(f"no build step matches {needle!r} in:\n{self.log}")
        ids = {line.split(" ", 1)[0] for line in lines}
        cached = {line.split(" ", 1)[0] for line in lines if line.endswith(" CACHED")}
        return ids == cached


@dataclass(frozen=True)
class DockerEngine:
    """A running engine on the project's own socket."""

    sock: str = DEFAULT_SOCK
    cli: str = DEFAULT_CLI

    @property
    def env(self) -> dict[str, str]:
        """The environment for docker commands against this engine (BuildKit on)."""
        env = dict(os.environ)
        env["DOCKER_HOST"] = f"unix://{self.sock}"
        env["DOCKER_BUILDKIT"] = "1"
        env["TWK_DOCKER_SOCK"] = self.sock
        env["TWK_DOCKER_CLI"] = self.cli
        env.pop("DOCKER_CONTEXT", None)
        return env

    def answers(self) -> bool:
        """True if an engine answers on the socket right now (False if docker is not installed)."""
        if not Path(self.cli).exists():
            return False
        return self.docker("version", check=False, timeout=30).returncode == 0

    def docker(
        self, *args: str, check: bool = True, timeout: float = 600, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run one docker command and capture its output; raise DockerError if it fails."""
        proc = subprocess.run(
            [self.cli, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            input=input,
        )
        if check and proc.returncode != 0:
            raise DockerError(
                f"docker {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def build(
        self,
        context: Path,
        tag: str,
        build_args: Mapping[str, str] | None = None,
        dockerfile: Path | None = None,
        no_cache: bool = False,
        timeout: float = 1200,
    ) -> BuildResult:
        """`docker build --network=host --progress=plain`; the log is kept for cache checks."""
        args = ["build", "--network=host", "--progress=plain", "--tag", tag]
        if dockerfile is not None:
            args += ["--file", str(dockerfile)]
        if no_cache:
            args.append("--no-cache")
        for key, value in (build_args or {}).items():
            args += ["--build-arg", f"{key}={value}"]
        args.append(str(context))
        started = time.monotonic()
        proc = self.docker(*args, check=False, timeout=timeout)
        seconds = time.monotonic() - started
        log = proc.stdout + proc.stderr
        if proc.returncode != 0:
            raise DockerError(f"docker build of {tag} exited {proc.returncode}:\n{log[-6000:]}")
        return BuildResult(tag=tag, log=log, seconds=seconds)

    def inspect(self, ref: str, kind: str = "image") -> dict[str, Any]:
        """`docker inspect` of one image or container as a dict."""
        out = self.docker(kind, "inspect", ref).stdout
        data = json.loads(out)
        if not isinstance(data, list) or not data:
            raise DockerError(f"docker {kind} inspect {ref}: unexpected output {out[:200]}")
        result: dict[str, Any] = data[0]
        return result

    def image_size(self, ref: str) -> int:
        """The image's uncompressed size in bytes, as `docker images` reports it."""
        return int(self.inspect(ref)["Size"])

    def layers(self, ref: str) -> list[str]:
        """The image's layer digests, bottom first."""
        return list(self.inspect(ref)["RootFS"]["Layers"])

    def image_exists(self, ref: str) -> bool:
        """True if the engine has the image."""
        return self.docker("image", "inspect", ref, check=False).returncode == 0

    def remove_image(self, ref: str) -> None:
        """Remove an image if present (its layers stay in the build cache)."""
        self.docker("image", "rm", "--force", ref, check=False)

    def run(
        self,
        image: str,
        args: Sequence[str] = (),
        options: Sequence[str] = (),
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """`docker run --rm --network=host` to completion; the result is returned unchecked."""
        return self.docker(
            "run", "--rm", "--network=host", *options, image, *args, check=False, timeout=timeout
        )


def _script(name: str, *args: str, env: Mapping[str, str], timeout: float) -> str:
    """Run one of the project's scripts; raise with its stderr if it fails."""
    proc = subprocess.run(
        ["bash", str(SCRIPTS / name), *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise DockerError(
            f"scripts/{name} {' '.join(args)} exited {proc.returncode}: {proc.stderr}"
        )
    return proc.stdout


def engine_up(sock: str | None = None) -> DockerEngine:
    """Install if missing and start the engine (scripts/docker-engine.sh); wait until it answers."""
    engine = DockerEngine(sock=sock or os.environ.get("TWK_DOCKER_SOCK", DEFAULT_SOCK))
    _script("docker-engine.sh", "up", env=engine.env, timeout=900)
    return engine


def engine_down(engine: DockerEngine) -> None:
    """Stop the engine started by scripts/docker-engine.sh (its data root and caches stay)."""
    _script("docker-engine.sh", "down", env=engine.env, timeout=120)


def ensure_base_image(engine: DockerEngine, flavor: str = "runtime") -> str:
    """Build the debootstrap base image if missing or stale (minutes once, then cached); its tag."""
    _script("base-image.sh", flavor, env=engine.env, timeout=1800)
    return _script("base-image.sh", flavor, "--print-tag", env=engine.env, timeout=30).strip()


def ensure_wheelhouse() -> Path:
    """Prepare worker_image/.wheelhouse from the runtime requirements (cached by their hash)."""
    _script("wheelhouse.sh", env=os.environ, timeout=900)
    return WORKER_IMAGE_DIR / WHEELHOUSE_NAME


def copy_context(dest: Path, source: Path = WORKER_IMAGE_DIR) -> Path:
    """Copy the image's build context (without caches) to dest, so a test can change code in it."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache")
    shutil.copytree(source, dest, ignore=ignore, symlinks=True)
    return dest


def push_worker_image(registry: str, repository: str, version: str) -> str:
    """Build ``worker_image/`` (VERSION=``version``) and push it to ``registry``; its digest ref.

    The base image is the engine's local debootstrap image and the wheels the wheelhouse, as
    ``make image`` builds; the registry is plain HTTP on 127.0.0.1.
    """
    engine = engine_up()
    base = ensure_base_image(engine, "runtime")
    ensure_wheelhouse()
    tag = f"{registry}/{repository}:{version}"
    args = {"BASE_IMAGE": base, "WHEELHOUSE": WHEELHOUSE_NAME, "VERSION": f"0.0.0-{version}"}
    engine.build(WORKER_IMAGE_DIR, tag, args)
    engine.docker("push", tag)
    listed = engine.docker("inspect", "--format", "{{json .RepoDigests}}", tag).stdout
    # The same image pushed to another registry (an earlier run's port) is listed too.
    ours = [d for d in json.loads(listed) if d.startswith(f"{registry}/{repository}@sha256:")]
    if len(ours) != 1:
        raise DockerError(f"no digest of {tag} on {registry}: {listed}")
    return ours[0]
