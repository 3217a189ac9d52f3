"""The kit's offline engine environment (tools/pulumi_env.py): no warnings, no hidden set-up step.

The engine loads a provider from PULUMI_HOME only at exactly the version the Python SDK asks for,
then warns when the provider reports less than that; it warns too for any provider it finds on
PATH. These tests hold the facts that keep every engine run quiet, without running an engine.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import semver

from tools import pulumi_env

pytestmark = pytest.mark.unit

BUILD_SCRIPT = pulumi_env.REPO_ROOT / "tools" / "build.sh"
# The version each built provider reports (its -X version flag), by plugin name.
BUILT_VERSION_VARS = {"kubernetes": "PK8S_VERSION", "docker-build": "DOCKER_BUILD_VERSION"}


def _built_version(plugin: pulumi_env.Plugin) -> semver.Version:
    var = BUILT_VERSION_VARS[plugin.name]
    match = re.search(rf'^{var}="([^"]+)"$', BUILD_SCRIPT.read_text(), re.MULTILINE)
    assert match, f"{var} not found in tools/build.sh"
    return semver.Version.parse(match.group(1))


@pytest.mark.parametrize("plugin", pulumi_env.PLUGINS, ids=lambda p: p.name)
def test_the_sdk_asks_for_no_more_than_the_built_provider_is(plugin: pulumi_env.Plugin) -> None:
    """Otherwise every run warns "resource plugin … is expected to have version >=…"."""
    asked = semver.Version.parse(plugin.version)
    built = _built_version(plugin)
    assert built >= asked, (
        f"the {plugin.sdk_package} SDK asks for {asked}, the provider built by tools/build.sh "
        f"reports {built}: pin the SDK to a release the built provider contains"
    )
    # Same release line: the built provider must not be a whole release ahead of the SDK either.
    assert (built.major, built.minor) <= (asked.major, asked.minor + 1), (asked, built)


def test_providers_never_come_from_path(tmp_path: Path) -> None:
    env = pulumi_env.engine_env(bin_dir=tmp_path / "bin", backend_dir=tmp_path / "state", base={})
    assert env["PULUMI_IGNORE_AMBIENT_PLUGINS"] == "true"
    assert env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
    assert env["PATH"].split(os.pathsep)[0] == str(tmp_path / "bin")


def _shell(tmp_path: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    base.pop("KUBECONFIG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "tools.pulumi_env", "shell", "--tools-dir", str(tmp_path)],
        cwd=pulumi_env.REPO_ROOT,
        env={**base, **extra},
        capture_output=True,
        text=True,
        check=True,
    )
    exports = dict(re.findall(r"^export (\w+)=(.*)$", proc.stdout, re.MULTILINE))
    assert proc.stdout.count("\n") == len(exports), proc.stdout
    return exports


def test_shell_exports_the_engine_env_and_defaults(tmp_path: Path) -> None:
    exports = _shell(tmp_path)
    assert exports["PULUMI_IGNORE_AMBIENT_PLUGINS"] == "true"
    assert exports["PULUMI_HOME"].endswith(".cache/pulumi-home")
    assert exports["PULUMI_BACKEND_URL"].startswith("file://")
    assert "PULUMI_CONFIG_PASSPHRASE" in exports


def test_shell_keeps_what_the_caller_chose(tmp_path: Path) -> None:
    exports = _shell(
        tmp_path,
        PULUMI_BACKEND_URL="s3://team-state",
        PULUMI_HOME=str(tmp_path / "home"),
        KUBECONFIG=str(tmp_path / "kubeconfig"),
        PULUMI_CONFIG_PASSPHRASE_FILE=str(tmp_path / "passphrase"),
    )
    for name in ("PULUMI_BACKEND_URL", "PULUMI_HOME", "KUBECONFIG", "PULUMI_CONFIG_PASSPHRASE"):
        assert name not in exports, exports
    assert exports["PATH"].startswith(str(tmp_path / "bin"))
