"""`python -m infra.versions status|promote` against a real dev server and real workers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from infra.versions.__main__ import main
from infra.versions.rollout import promote
from tests.versions.conftest import Fleet, run

pytestmark = pytest.mark.worker
REPO = Path(__file__).resolve().parents[2]


def _project(tmp_path: Path, fleet: Fleet, **versioning: object) -> Path:
    """A project directory with one versioned stack `vtest` for the fleet's queue."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy2(REPO / "Pulumi.yaml", project / "Pulumi.yaml")
    config = {
        "temporal-workers:temporal": {"address": fleet.server.address, "namespace": "default"},
        "temporal-workers:image": {
            "source": "prebuilt",
            "ref": "registry.invalid/w@sha256:" + "a" * 64,
        },
        "temporal-workers:versioning": {"enabled": True, "identity": "pulumi/test", **versioning},
        "temporal-workers:queues": {
            fleet.queue: {
                "app": "tests.apps.versioned_app:full",
                "deploymentName": fleet.deployment,
            }
        },
    }
    (project / "Pulumi.vtest.yaml").write_text(yaml.safe_dump({"config": config}))
    return project


def test_status_shows_each_builds_role_pollers_and_next_step(
    fleet: Fleet,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def rollout() -> None:
        client = await fleet.client()
        fleet.start("a")
        await promote(client, fleet.request("a"))
        fleet.start("b")
        await promote(client, fleet.request("b"))

    run(rollout())
    monkeypatch.chdir(_project(tmp_path, fleet))
    assert main(["status", "--stack", "vtest"]) == 0
    out = capsys.readouterr().out
    print(out)
    header, *rows = out.splitlines()
    assert header.split()[:3] == ["QUEUE", "BUILD", "ROLE"]
    by_build = {row.split()[1]: row for row in rows}
    assert set(by_build) == {"a", "b"}
    assert " current " in by_build["b"] and "activity=2 workflow=2" in by_build["b"]
    assert " draining " in by_build["a"] or " drained " in by_build["a"]
    assert "activity=2 workflow=2" in by_build["a"]


def test_manual_promote_command_makes_a_polling_build_current(
    fleet: Fleet,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def first() -> None:
        client = await fleet.client()
        fleet.start("a")
        await promote(client, fleet.request("a"))
        fleet.start("b")
        result = await promote(client, fleet.request("b", strategy="manual"))
        assert result.current == "a"  # manual: b polls, routing unchanged

    run(first())
    monkeypatch.chdir(_project(tmp_path, fleet, strategy="manual"))
    args = ["promote", "--stack", "vtest", "--queue", fleet.queue, "--build", "b"]
    assert main(args) == 0
    assert capsys.readouterr().out.strip() == f"{fleet.queue}: current b (current -> b)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["status", "--stack", "nope"], "error: --stack nope: no Pulumi.nope.yaml (stacks: vtest)"),
        (
            ["promote", "--stack", "vtest", "--queue", "x", "--build", "b"],
            "error: --queue x: not a queue of stack vtest",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str],
    message: str,
    fleet: Fleet,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(_project(tmp_path, fleet))
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and "\n" not in err
