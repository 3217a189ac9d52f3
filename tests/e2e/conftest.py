"""Session fixtures for the e2e tier: built tools, a local control plane, the offline engine env.

The tools come from ``tools/build.sh`` (the same script as ``make tools``; seconds when cached, a
cold build on a fresh machine takes tens of minutes). The control plane runs in a temporary
directory and is stopped and removed at the end of the session.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import Engine
from tools import pulumi_env
from tools.local_cluster import LocalCluster


@pytest.fixture(scope="session")
def tools_bin_dir() -> Path:
    """The built tools' bin/ directory (builds what is missing)."""
    return pulumi_env.tools_bin(pulumi_env.build_tools())


@pytest.fixture(scope="session")
def local_cluster(
    tools_bin_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalCluster]:
    """A running control plane with 3 kwok nodes in 2 zones; removed after the session."""
    cluster = LocalCluster(tmp_path_factory.mktemp("cluster"), bin_dir=tools_bin_dir)
    try:
        cluster.start(nodes=3, zones=2, timeout=120)
        yield cluster
    finally:
        cluster.delete()


@pytest.fixture(scope="session")
def engine(
    tools_bin_dir: Path, local_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Engine:
    """The offline engine env (repo-local PULUMI_HOME, a fresh file:// backend, KUBECONFIG)."""
    env = pulumi_env.engine_env(
        bin_dir=tools_bin_dir, backend_dir=tmp_path_factory.mktemp("pulumi-state")
    )
    env["KUBECONFIG"] = str(local_cluster.kubeconfig)
    pulumi_env.install_plugins(env, tools_bin_dir)
    return Engine(env=env, cluster=local_cluster)
