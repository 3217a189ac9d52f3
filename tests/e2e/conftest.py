"""Session fixtures for the e2e tier: built tools, a local control plane, the offline engine env.

The tools come from ``tools/build.sh`` (the same script as ``make tools``; seconds when cached, a
cold build on a fresh machine takes tens of minutes). The control plane runs in a temporary
directory and is stopped and removed at the end of the session.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.helpers import Engine
from tests.support.temporal_dev import SHORT_DRAINAGE, DevServer, dev_server
from tests.support.versioned_workers import settings_of_config
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
    """A running control plane with 3 kwok nodes in 2 zones and the real node; removed after."""
    cluster = LocalCluster(tmp_path_factory.mktemp("cluster"), bin_dir=tools_bin_dir)
    try:
        cluster.start(nodes=3, zones=2, timeout=120, real_node=True)
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


@pytest.fixture(scope="session")
def rollout_temporal() -> Iterator[DevServer]:
    """The Temporal that versioned stacks (staging, prod) route through in e2e runs.

    A dev server on 127.0.0.1 with their Temporal namespaces and short drainage timings; the
    stack copies reach it through `versioning.controlAddress` (the pods' address stays the stack
    file's: on kwok no pod connects), and host workers poll it as the builds being rolled out.
    """
    namespaces = []
    for stack in ("staging", "prod"):
        data = yaml.safe_load((pulumi_env.REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())
        namespaces.append(settings_of_config(data["config"], stack).temporal.namespace)
    with dev_server(dynamic_config=SHORT_DRAINAGE, extra_namespaces=namespaces) as server:
        yield server
