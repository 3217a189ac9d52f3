"""Small rules of the program: import boundary, image references, kubeconfig paths, the copies
of contract names the pack keeps, contracts only in the repository."""

from __future__ import annotations

import ast
import re
import subprocess

import pulumi
import pytest
from pulumi.runtime.rpc import UNKNOWN

from infra import names
from infra.components.cluster import kubeconfig_value
from infra.components.worker_image import build_args, digest_ref
from policies.temporal_policies import workloads
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


def test_digest_ref_is_unknown_in_a_preview_that_does_not_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A changed build previews (no build) with an empty digest: unknown, not an error."""
    monkeypatch.setattr(pulumi.runtime, "is_dry_run", lambda: True)
    assert digest_ref("ghcr.io/acme/worker", "") == UNKNOWN
    with pytest.raises(pulumi.RunError, match="reported no digest"):
        digest_ref("ghcr.io/acme/worker", "latest")


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


def test_no_file_points_outside_the_repository_for_its_contracts() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    outside = re.compile(r"shared" + r"/DESIGN|\.\./shared/")  # split: this file is tracked too
    offenders = [
        path
        for path in tracked
        if path.endswith((".py", ".md", ".mk", ".yml", ".yaml", "Makefile"))
        and outside.search((REPO / path).read_text(errors="replace"))
    ]
    assert offenders == [], "contracts live in docs/architecture.md"


def test_version_labels_agree_between_the_program_and_the_pack() -> None:
    """The pack may not import infra/, so it keeps its own copies of the names; they must agree."""
    assert workloads.BUILD_ID_LABEL == names.BUILD_ID_LABEL
    assert workloads.VERSION_ROLE_ANNOTATION == names.VERSION_ROLE_ANNOTATION
    assert workloads.QUEUE_LABEL in names.queue_labels("s", "q")
    architecture = (REPO / "docs" / "architecture.md").read_text()
    for name in (
        names.BUILD_ID_LABEL,
        names.DEPLOYMENT_NAME_LABEL,
        names.VERSION_ROLE_ANNOTATION,
        names.SCALED_DOWN_ANNOTATION,
    ):
        assert f"`{name}" in architecture, name
