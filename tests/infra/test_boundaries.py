"""Small rules of the program: import boundary, image references, kubeconfig paths."""

from __future__ import annotations

import ast

import pulumi
import pytest

from infra.components.cluster import kubeconfig_value
from infra.components.worker_image import build_args, digest_ref
from tests.infra.harness import REPO
from tests.infra.samples import base_config, settings_of

pytestmark = pytest.mark.unit


def _imported_modules(source: str) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module.split(".")[0])
    return modules


def test_infra_never_imports_workerkit_or_policies() -> None:
    files = sorted((REPO / "infra").rglob("*.py"))
    assert len(files) > 10
    for path in files:
        imported = _imported_modules(path.read_text())
        assert not imported & {"workerkit", "policies", "tests"}, path


def test_digest_ref_always_pins_a_digest() -> None:
    digest = "sha256:" + "0" * 64
    assert digest_ref("ghcr.io/acme/worker", digest) == f"ghcr.io/acme/worker@{digest}"
    assert digest_ref("x", f"ghcr.io/acme/worker@{digest}") == f"ghcr.io/acme/worker@{digest}"
    with pytest.raises(pulumi.RunError, match="reported no digest"):
        digest_ref("ghcr.io/acme/worker", "")


def test_build_args_leave_base_image_to_the_dockerfile_unless_set() -> None:
    image = settings_of(base_config()).image
    assert build_args(image, "b1") == {
        "BUILD_ID": "b1",
        "VERSION": "0.1.0",
        "REVISION": "",
        "SOURCE": "",
        "WHEELHOUSE": "",
    }


def test_kubeconfig_paths_are_relative_to_the_project_root() -> None:
    assert kubeconfig_value(".cache/kc", REPO) == str(REPO / ".cache/kc")
    assert kubeconfig_value("/etc/kc", REPO) == "/etc/kc"
    contents = "apiVersion: v1\nkind: Config\n"
    assert kubeconfig_value(contents, REPO) == contents
