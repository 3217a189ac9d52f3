"""The real node's configuration: what keeps pod traffic on this machine, and the stack's copy."""

from __future__ import annotations

import io
import ipaddress
import json
import tarfile
import tomllib
from pathlib import Path

import pytest
import yaml

from tools import local_node
from tools.pulumi_env import REPO_ROOT
from tools.tcp_forward import _split

pytestmark = pytest.mark.unit


def test_pod_network_has_no_gateway_no_masquerade_and_no_route(tmp_path: Path) -> None:
    """A gateway bridge would turn on ip_forward; masquerade or a route would let pods out."""
    conf = local_node.cni_config(tmp_path)
    bridge = conf["plugins"][0]
    assert bridge["type"] == "bridge" and bridge["bridge"] == local_node.BRIDGE
    assert bridge["isGateway"] is False and bridge["isDefaultGateway"] is False
    assert bridge["ipMasq"] is False
    assert "routes" not in bridge["ipam"]
    subnet = ipaddress.ip_network(local_node.SUBNET)
    assert subnet.is_private
    (pod_range,) = bridge["ipam"]["ranges"]
    assert pod_range == [
        {
            "subnet": local_node.SUBNET,
            "rangeStart": local_node.POD_RANGE[0],
            "rangeEnd": local_node.POD_RANGE[1],
        }
    ]
    assert ipaddress.ip_address(local_node.NODE_IP) in subnet
    assert all(ipaddress.ip_address(a) in subnet for a in local_node.POD_RANGE)
    first_pod = ipaddress.IPv4Address(local_node.POD_RANGE[0])
    assert ipaddress.IPv4Address(local_node.NODE_IP) < first_pod  # the node is no pod's address
    assert bridge["ipam"]["dataDir"].startswith(str(tmp_path))


def test_containerd_is_private_to_the_node_and_fit_for_this_machine(tmp_path: Path) -> None:
    config = tomllib.loads(local_node.containerd_config(tmp_path))
    assert config["root"].startswith(str(tmp_path))
    assert config["grpc"]["address"] == str(local_node.RUNTIME_DIR / "containerd.sock")
    assert config["metrics"]["address"] == "" and config["debug"]["address"] == ""
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == local_node.PAUSE_IMAGE  # imported, never pulled
    assert cri["stream_server_address"] == "127.0.0.1"
    assert cri["restrict_oom_score_adj"] is True  # no CAP_SYS_RESOURCE here
    runc = cri["containerd"]["runtimes"]["runc"]["options"]
    assert runc["SystemdCgroup"] is False and runc["Root"].startswith(str(local_node.RUNTIME_DIR))
    assert cri["cni"]["conf_dir"].startswith(str(tmp_path))


def test_kubelet_serves_on_the_node_address_and_refuses_anonymous(tmp_path: Path) -> None:
    ports = local_node.NodePorts(kubelet=10250, healthz=10248)
    config = local_node.kubelet_config(tmp_path, tmp_path / "ca.crt", ports)
    assert config["address"] == local_node.NODE_IP
    assert config["healthzBindAddress"] == "127.0.0.1"
    assert config["readOnlyPort"] == 0
    assert config["authentication"]["anonymous"] == {"enabled": False}
    assert config["authorization"]["mode"] == "Webhook"
    assert config["failCgroupV1"] is False and config["cgroupDriver"] == "cgroupfs"
    assert config["resolvConf"] == ""  # nothing in a pod resolves through the machine's DNS


def test_pause_image_archive_holds_one_executable_layer(tmp_path: Path) -> None:
    binary = tmp_path / "pause"
    binary.write_bytes(b"\x7fELF pretend")
    files = _tar_files(local_node.pause_image_archive(binary))
    manifest = json.loads(files["manifest.json"])
    assert manifest[0]["RepoTags"] == [local_node.PAUSE_IMAGE]
    with tarfile.open(fileobj=io.BytesIO(files["layer.tar"])) as layer:
        (member,) = layer.getmembers()
    assert member.name == "pause" and member.mode == 0o755
    assert json.loads(files["config.json"])["config"]["Entrypoint"] == ["/pause"]


def _tar_files(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def test_the_local_stack_places_its_workers_on_the_real_node() -> None:
    """Pulumi.local.yaml's nodeSelector and toleration are the node's label and taint."""
    config = yaml.safe_load((REPO_ROOT / "Pulumi.local.yaml").read_text())["config"]
    assert config["temporal-workers:defaults"]["nodeSelector"] == local_node.node_selector()
    assert config["temporal-workers:defaults"]["tolerations"] == [local_node.toleration()]


def test_forwarder_addresses_are_host_and_port() -> None:
    assert _split("10.250.0.1:7233") == ("10.250.0.1", 7233)
    with pytest.raises(SystemExit, match="not HOST:PORT"):
        _split("7233")
