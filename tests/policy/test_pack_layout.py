"""The pack's layout contracts: rules never import infra/ or workerkit; config files are valid."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from policies.temporal_policies import config

pytestmark = pytest.mark.unit

POLICIES_DIR = Path(__file__).resolve().parents[2] / "policies"
FORBIDDEN = ("infra", "workerkit", "orders_app", "tests")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("path", sorted(POLICIES_DIR.rglob("*.py")), ids=lambda p: p.name)
def test_policies_import_neither_infra_nor_workerkit(path: Path) -> None:
    assert not _imports(path) & set(FORBIDDEN)


def test_main_only_builds_the_pack() -> None:
    tree = ast.parse((POLICIES_DIR / "__main__.py").read_text())
    statements = [n for n in tree.body if not isinstance(n, ast.Import | ast.ImportFrom | ast.Expr)]
    assert statements == []
    calls = [
        n.value for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)
    ]
    assert [ast.unparse(c.func) for c in calls] == ["PolicyPack"]


@pytest.mark.parametrize("profile", ["production", "preview"])
def test_profiles_name_every_policy_and_only_known_settings(profile: str) -> None:
    loaded = json.loads((POLICIES_DIR / "config" / f"{profile}.json").read_text())
    assert set(loaded) == set(config.MANDATORY_POLICIES) | set(config.ADVISORY_POLICIES)
    for name, value in loaded.items():
        if isinstance(value, dict):
            assert set(value) - {"enforcementLevel"} <= set(config.SCHEMAS.get(name, {}))


def test_requirements_pin_the_sdks() -> None:
    lines = (POLICIES_DIR / "requirements.txt").read_text().splitlines()
    assert {"pulumi==3.272.0", "pulumi-policy==1.21.0"} <= {line.strip() for line in lines}
