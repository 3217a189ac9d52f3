"""The offline Pulumi engine environment: built binaries, repo-local PULUMI_HOME, local backend.

One implementation for every caller: the e2e tests import :func:`engine_env` and
:func:`install_plugins`; ``scripts/pulumi-env.sh`` and the make targets run this module
(``python -m tools.pulumi_env shell``) and source its output.

The environment it produces:

* ``PATH`` starts with the tools ``bin/`` directory (``pulumi`` and, next to it, the Python
  language host, which the engine finds there as a bundled plugin), then the repo's virtualenv;
* ``PULUMI_HOME`` is repo-local (``.cache/pulumi-home``, git-ignored) and holds the plugins,
  installed from the built binaries with ``pulumi plugin install resource NAME VERSION --file BIN``
  under the version the installed Python SDK asks for (its ``pulumi-plugin.json``);
* ``PULUMI_IGNORE_AMBIENT_PLUGINS`` is true: providers come from ``PULUMI_HOME`` only, never from
  ``PATH`` (which would warn "using pulumi-resource-… from $PATH" on every run);
* ``PULUMI_BACKEND_URL`` is a local ``file://`` backend (``.cache/pulumi-state`` by default);
* ``PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION``, ``PULUMI_SKIP_UPDATE_CHECK`` and
  ``PULUMI_SKIP_CONFIRMATIONS`` are true, so the engine never reaches out to the network;
* ``KUBECONFIG`` (shell output only, when unset) is the local control plane's (``make cluster-up``);
* ``PULUMI_CONFIG_PASSPHRASE`` encrypts the local stacks' secrets (a fixed development value unless
  one is already set: these stacks are local test stacks, not production).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = REPO_ROOT / "tools" / "build.sh"
DEFAULT_PULUMI_HOME = REPO_ROOT / ".cache" / "pulumi-home"
DEFAULT_STATE_DIR = REPO_ROOT / ".cache" / "pulumi-state"
LOCAL_KUBECONFIG = REPO_ROOT / ".cache" / "cluster" / "kubeconfig"
DEV_PASSPHRASE = "twk-local-development-only"


@dataclass(frozen=True)
class Plugin:
    """A resource provider built by tools/build.sh, and the Python SDK package that drives it."""

    name: str
    sdk_package: str

    @property
    def binary(self) -> str:
        """File name of the provider binary."""
        return f"pulumi-resource-{self.name}"

    @property
    def version(self) -> str:
        """The provider version the installed Python SDK asks the engine for.

        The engine loads a provider from ``PULUMI_HOME`` only at exactly this version, so the built
        binary is installed under it; the binary reports its own version, which the engine checks is
        at least this one (``tests/unit/test_engine_env.py`` checks the same without an engine).
        """
        meta = resources.files(self.sdk_package).joinpath("pulumi-plugin.json").read_text()
        return str(json.loads(meta)["version"])


PLUGINS: tuple[Plugin, ...] = (
    Plugin("kubernetes", "pulumi_kubernetes"),
    Plugin("docker-build", "pulumi_docker_build"),
)


class ToolsError(RuntimeError):
    """The tools could not be built or located."""


def build_tools(*, quiet: bool = False, progress_to_stderr: bool = False) -> Path:
    """Build any missing binary (idempotent; seconds when everything is cached).

    Args:
        quiet: discard the build's progress lines.
        progress_to_stderr: send them to stderr (for callers whose stdout is parsed).

    Returns:
        The tools directory whose ``bin/`` holds the binaries.
    """
    out = subprocess.DEVNULL if quiet else (sys.stderr if progress_to_stderr else None)
    proc = subprocess.run(["bash", str(BUILD_SCRIPT)], stdout=out, check=False)
    if proc.returncode != 0:
        raise ToolsError(f"{BUILD_SCRIPT} failed with exit code {proc.returncode}")
    return tools_dir()


def tools_built() -> bool:
    """Whether every binary of the current pins is built (``tools/build.sh --check``)."""
    proc = subprocess.run(["bash", str(BUILD_SCRIPT), "--check"], capture_output=True, check=False)
    return proc.returncode == 0


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
            "PULUMI_IGNORE_AMBIENT_PLUGINS": "true",
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
    """Install the built providers into ``env["PULUMI_HOME"]``.

    A provider already installed from the same binary (path, size and modification time, kept in a
    stamp file next to it) is skipped; a rebuilt one is installed again.

    Returns:
        The names of the plugins that were installed by this call.
    """
    bin_path = bin_dir or tools_bin()
    plugins_dir = Path(env["PULUMI_HOME"]) / "plugins"
    installed: list[str] = []
    for plugin in PLUGINS:
        binary = bin_path / plugin.binary
        if not binary.is_file():
            raise ToolsError(f"{binary} is missing; run make tools")
        target = plugins_dir / f"resource-{plugin.name}-v{plugin.version}"
        stat = binary.stat()
        source = f"{binary.resolve()} {stat.st_size} {stat.st_mtime_ns}\n"
        stamp = target / ".twk-source"
        if (target / plugin.binary).is_file() and stamp.is_file() and stamp.read_text() == source:
            continue
        cmd = ["pulumi", "plugin", "install", "resource", plugin.name, plugin.version]
        cmd += ["--file", str(binary), "--reinstall"]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise ToolsError(f"{shlex.join(cmd)} failed: {proc.stderr.strip()}")
        stamp.write_text(source)
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


# What `shell` exports: what engine_env sets for the engine itself ...
ENGINE_VARS = (
    "PATH",
    "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION",
    "PULUMI_IGNORE_AMBIENT_PLUGINS",
    "PULUMI_SKIP_UPDATE_CHECK",
    "PULUMI_SKIP_CONFIRMATIONS",
    "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK",
    "PULUMI_PYTHON_CMD",
)
# ... and defaults for what the caller may have chosen already (their own backend, plugin home,
# cluster or passphrase), which `shell` then keeps.
CALLER_CHOICES = ("PULUMI_HOME", "PULUMI_BACKEND_URL", "KUBECONFIG", "PULUMI_CONFIG_PASSPHRASE")


def _shell(args: argparse.Namespace) -> int:
    bin_dir = tools_bin(Path(args.tools_dir)) if args.tools_dir else None
    if args.ensure and bin_dir is None and not tools_built():
        print("pulumi_env: building the kit's engine first (make tools) ...", file=sys.stderr)
        build_tools(progress_to_stderr=True)
    env = engine_env(bin_dir=bin_dir)
    if not env.get("KUBECONFIG") and LOCAL_KUBECONFIG.is_file():
        env["KUBECONFIG"] = str(LOCAL_KUBECONFIG)
    env.update({name: os.environ[name] for name in CALLER_CHOICES if os.environ.get(name)})
    if args.ensure:
        install_plugins(env, bin_dir)
    defaults = [n for n in CALLER_CHOICES if env.get(n) and not os.environ.get(n)]
    for name in (*ENGINE_VARS, *defaults):
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
    shell.add_argument(
        "--ensure",
        action="store_true",
        help="build the tools if missing (progress on stderr) and install the providers first",
    )
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
