"""The offline Pulumi engine environment: built binaries, repo-local PULUMI_HOME, local backend.

One implementation for every caller: the e2e tests import :func:`engine_env` and
:func:`install_plugins`; ``scripts/pulumi-env.sh`` and the make targets run this module
(``python -m tools.pulumi_env shell``) and source its output.

The environment it produces:

* ``PATH`` starts with the tools ``bin/`` directory (``pulumi``, the Python language host and the
  ``pulumi-resource-*`` providers), then the repo's virtualenv;
* ``PULUMI_HOME`` is repo-local (``.cache/pulumi-home``, git-ignored) and holds the plugins,
  installed from the built binaries with ``pulumi plugin install resource NAME VERSION --file BIN``;
* ``PULUMI_BACKEND_URL`` is a local ``file://`` backend (``.cache/pulumi-state`` by default);
* ``PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION``, ``PULUMI_SKIP_UPDATE_CHECK`` and
  ``PULUMI_SKIP_CONFIRMATIONS`` are true, so the engine never reaches out to the network;
* ``PULUMI_CONFIG_PASSPHRASE`` encrypts the local stacks' secrets (a fixed development value unless
  one is already set: these stacks are local test stacks, not production).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = REPO_ROOT / "tools" / "build.sh"
DEFAULT_PULUMI_HOME = REPO_ROOT / ".cache" / "pulumi-home"
DEFAULT_STATE_DIR = REPO_ROOT / ".cache" / "pulumi-state"
DEV_PASSPHRASE = "twk-local-development-only"


@dataclass(frozen=True)
class Plugin:
    """A resource provider built by tools/build.sh and the version it is installed under."""

    name: str
    version: str

    @property
    def binary(self) -> str:
        """File name of the provider binary."""
        return f"pulumi-resource-{self.name}"


# Keep in step with PK8S_VERSION and DOCKER_BUILD_VERSION in tools/build.sh.
PLUGINS: tuple[Plugin, ...] = (
    Plugin("kubernetes", "4.25.0-alpha.0.20260115033456-f47bc2d6f199"),
    Plugin("docker-build", "0.0.22"),
)


class ToolsError(RuntimeError):
    """The tools could not be built or located."""


def build_tools(*, quiet: bool = False) -> Path:
    """Build any missing binary (idempotent; seconds when everything is cached).

    Returns the tools directory whose ``bin/`` holds the binaries.
    """
    out = None if not quiet else subprocess.DEVNULL
    proc = subprocess.run(["bash", str(BUILD_SCRIPT)], stdout=out, check=False)
    if proc.returncode != 0:
        raise ToolsError(f"{BUILD_SCRIPT} failed with exit code {proc.returncode}")
    return tools_dir()


def tools_dir() -> Path:
    """The tools directory for the current pins (it may not be built yet)."""
    proc = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--print-dir"], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise ToolsError(f"{BUILD_SCRIPT} --print-dir failed: {proc.stderr.strip()}")
    return Path(proc.stdout.strip())


def tools_bin(directory: Path | None = None) -> Path:
    """The ``bin/`` directory with the built binaries."""
    return (directory or tools_dir()) / "bin"


def engine_env(
    *,
    bin_dir: Path | None = None,
    pulumi_home: Path = DEFAULT_PULUMI_HOME,
    backend_dir: Path = DEFAULT_STATE_DIR,
    passphrase: str | None = None,
    base: dict[str, str] | None = None,
) -> dict[str, str]:
    """Return the environment for running the built ``pulumi`` CLI offline.

    ``base`` defaults to ``os.environ``; the result is a new dict. ``backend_dir`` is created.
    """
    env = dict(os.environ if base is None else base)
    bin_path = bin_dir or tools_bin()
    venv_bin = REPO_ROOT / ".venv" / "bin"
    env["PATH"] = os.pathsep.join([str(bin_path), str(venv_bin), env.get("PATH", "")])
    backend_dir.mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "PULUMI_HOME": str(pulumi_home),
            "PULUMI_BACKEND_URL": backend_dir.resolve().as_uri(),
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_SKIP_CONFIRMATIONS": "true",
            "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
            "PULUMI_PYTHON_CMD": str(venv_bin / "python"),
        }
    )
    if passphrase is not None:
        env["PULUMI_CONFIG_PASSPHRASE"] = passphrase
    elif not env.get("PULUMI_CONFIG_PASSPHRASE") and not env.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        env["PULUMI_CONFIG_PASSPHRASE"] = DEV_PASSPHRASE
    return env


def install_plugins(env: dict[str, str], bin_dir: Path | None = None) -> list[str]:
    """Install the built providers into ``env["PULUMI_HOME"]`` (skips those already there).

    Returns the names of the plugins that were installed by this call.
    """
    bin_path = bin_dir or tools_bin()
    plugins_dir = Path(env["PULUMI_HOME"]) / "plugins"
    installed: list[str] = []
    for plugin in PLUGINS:
        binary = bin_path / plugin.binary
        if not binary.is_file():
            raise ToolsError(f"{binary} is missing; run make tools")
        target = plugins_dir / f"resource-{plugin.name}-v{plugin.version}"
        if (target / plugin.binary).is_file():
            continue
        cmd = ["pulumi", "plugin", "install", "resource", plugin.name, plugin.version]
        cmd += ["--file", str(binary)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise ToolsError(f"{shlex.join(cmd)} failed: {proc.stderr.strip()}")
        installed.append(f"{plugin.name} {plugin.version}")
    return installed


def run_pulumi(
    args: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 600.0
) -> subprocess.CompletedProcess[str]:
    """Run ``pulumi ARGS`` non-interactively in ``cwd``; output is captured (stderr into stdout)."""
    return subprocess.run(
        ["pulumi", *args, "--non-interactive"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


def _shell(args: argparse.Namespace) -> int:
    env = engine_env(bin_dir=tools_bin(Path(args.tools_dir)) if args.tools_dir else None)
    names = [
        "PATH",
        "PULUMI_HOME",
        "PULUMI_BACKEND_URL",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION",
        "PULUMI_SKIP_UPDATE_CHECK",
        "PULUMI_SKIP_CONFIRMATIONS",
        "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK",
        "PULUMI_PYTHON_CMD",
    ]
    if "PULUMI_CONFIG_PASSPHRASE" not in os.environ and "PULUMI_CONFIG_PASSPHRASE_FILE" not in (
        os.environ
    ):
        names.append("PULUMI_CONFIG_PASSPHRASE")
    for name in names:
        print(f"export {name}={shlex.quote(env[name])}")
    return 0


def _setup(args: argparse.Namespace) -> int:
    directory = build_tools() if args.build else tools_dir()
    env = engine_env(bin_dir=tools_bin(directory))
    for line in install_plugins(env, tools_bin(directory)):
        print(f"installed plugin {line}")
    print(f"PULUMI_HOME={env['PULUMI_HOME']}")
    print(f"PULUMI_BACKEND_URL={env['PULUMI_BACKEND_URL']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line: ``shell`` prints export lines; ``setup`` installs the plugins."""
    parser = argparse.ArgumentParser(prog="python -m tools.pulumi_env", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    shell = sub.add_parser("shell", help="print export lines for a POSIX shell")
    shell.add_argument("--tools-dir", help="tools directory (default: tools/build.sh --print-dir)")
    setup = sub.add_parser("setup", help="install the built providers into PULUMI_HOME")
    setup.add_argument("--build", action="store_true", help="run tools/build.sh first")
    args = parser.parse_args(argv)
    try:
        if args.command == "shell":
            return _shell(args)
        return _setup(args)
    except ToolsError as exc:
        print(f"pulumi_env: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
