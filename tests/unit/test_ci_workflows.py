"""The CI workflows for users run the commands the e2e tests run, on the right triggers.

Every ``make`` command in a workflow's (or the shared setup action's) ``run`` steps must match a
template of ``tests/support/ci_commands.py``, the module the e2e tests build their commands from;
each template a workflow uses must be used by an e2e test; and the make targets must expand to the
documented engine commands.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import ci_commands
from tests.support.ci_commands import WORKFLOW_COMMANDS, pattern

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
SETUP_ACTION = REPO / ".github" / "actions" / "setup" / "action.yml"
E2E_DIR = REPO / "tests" / "e2e"
MAKE = shutil.which("make") or "make"
SETUP_COMMANDS = {"make venv"}
"""Commands of the setup action that only prepare the runner (the e2e fixtures do the same)."""


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    if True in data:  # YAML 1.1 reads the key `on` as a boolean
        data["on"] = data.pop(True)
    return data


def _workflows() -> dict[str, dict[str, Any]]:
    return {p.name: _load(p) for p in sorted(WORKFLOWS.glob("*.yml"))}


def _steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    if "runs" in document:
        return list(document["runs"]["steps"])
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


def make_commands(script: str) -> list[str]:
    """The ``make`` commands of a shell script, with ``${{ }}`` expressions as ``X`` and without
    redirections or pipes."""
    text = re.sub(r"\$\{\{[^}]*\}\}", "X", script.replace("\\\n", " "))
    found = []
    for line in text.splitlines():
        for segment in re.split(r"\|\||&&|[|;]", line):
            words = [w for w in shlex.split(segment, comments=True) if not re.match(r"\d?>", w)]
            if words[:1] == ["make"]:
                found.append(" ".join(words))
    return found


def _all_make_commands() -> dict[str, list[str]]:
    documents = {**_workflows(), SETUP_ACTION.name: _load(SETUP_ACTION)}
    return {
        name: [cmd for step in _steps(doc) if "run" in step for cmd in make_commands(step["run"])]
        for name, doc in documents.items()
    }


def _template_of(command: str) -> str | None:
    return next((n for n, t in WORKFLOW_COMMANDS.items() if pattern(t).match(command)), None)


def test_make_command_extraction() -> None:
    script = (
        "set -o pipefail\n"
        "make policy-gate STACK=${{ matrix.stack }} POLICY_PROFILE=production 2>&1 | tee x\n"
        "make a && make b ARG=${{ x }}@${{ y }} # comment\n"
    )
    assert make_commands(script) == [
        "make policy-gate STACK=X POLICY_PROFILE=production",
        "make a",
        "make b ARG=X@X",
    ]
    assert _template_of("make policy-gate STACK=X POLICY_PROFILE=production") == "policy-gate"
    assert _template_of("make policy-gate STACK=X POLICY_PROFILE=preview") is None


def test_every_workflow_command_is_a_tested_command() -> None:
    commands = _all_make_commands()
    assert set(commands) >= {
        "pull-request.yml",
        "main.yml",
        "release.yml",
        "preview-gc.yml",
        "sunset.yml",
        "action.yml",
    }
    for name, found in commands.items():
        for command in found:
            if command in SETUP_COMMANDS:
                continue
            assert _template_of(command), f"{name}: {command!r} is not in tests/support/ci_commands"


def test_workflows_do_not_call_the_engine_directly() -> None:
    """Deploys go through the make targets the tests run, never a hand-written pulumi line."""
    for name, doc in _workflows().items():
        for step in _steps(doc):
            run = step.get("run", "")
            assert not re.search(r"^\s*pulumi\s", run, re.M), f"{name}: {run}"
            assert "pulumi/actions" not in step.get("uses", "") or "command" not in step.get(
                "with", {}
            ), f"{name}: pulumi/actions only installs the CLI; commands go through make"


def test_each_used_template_is_run_by_an_e2e_test() -> None:
    used = {
        _template_of(cmd)
        for found in _all_make_commands().values()
        for cmd in found
        if cmd not in SETUP_COMMANDS
    }
    sources = "\n".join(p.read_text() for p in E2E_DIR.glob("test_*.py"))
    constants = {
        value: name
        for name, value in vars(ci_commands).items()
        if name.isupper() and isinstance(value, str)
    }
    for template_name in sorted(t for t in used if t):
        constant = constants[WORKFLOW_COMMANDS[template_name]]
        assert re.search(rf"\b{constant}\b", sources), f"no e2e test runs {constant}"


def _run_scripts(doc: dict[str, Any], job: str) -> str:
    return "\n".join(step.get("run", "") for step in doc["jobs"][job]["steps"])


def test_pull_request_workflow() -> None:
    doc = _workflows()["pull-request.yml"]
    assert set(doc["on"]["pull_request"]["types"]) == {
        "opened",
        "synchronize",
        "reopened",
        "closed",
    }
    jobs = doc["jobs"]
    assert jobs["policy-gate"]["if"] == "github.event.action != 'closed'"
    stacks = {entry["stack"] for entry in jobs["policy-gate"]["strategy"]["matrix"]["include"]}
    assert stacks == {"dev", "staging", "prod"}
    assert make_commands(_run_scripts(doc, "policy-gate")) == [
        "make policy-gate STACK=X POLICY_PROFILE=production"
    ]
    gate_steps = jobs["policy-gate"]["steps"]
    assert any(
        "github-script" in s.get("uses", "") and "createComment" in s["with"]["script"]
        for s in gate_steps
    )
    assert jobs["preview-up"]["if"] == "github.event.action != 'closed'"
    assert make_commands(_run_scripts(doc, "preview-up")) == ["make preview-up PR=X IMAGE_REF=X@X"]
    assert jobs["preview-destroy"]["if"] == "github.event.action == 'closed'"
    assert make_commands(_run_scripts(doc, "preview-destroy")) == ["make preview-destroy PR=X"]
    for job in ("preview-up", "preview-destroy"):
        assert (
            jobs[job]["concurrency"]["group"]
            == "preview-stack-${{ github.event.pull_request.number }}"
        )


def test_main_deploys_staging_and_tags_promote_prod() -> None:
    workflows = _workflows()
    main, release = workflows["main.yml"], workflows["release.yml"]
    assert main["on"]["push"]["branches"] == ["main"]
    assert make_commands(_run_scripts(main, "staging")) == [
        "make promote STACK=staging IMAGE_REF=X@X"
    ]
    assert release["on"]["push"]["tags"] == ["v*"]
    prod = _run_scripts(release, "prod")
    assert make_commands(prod) == ["make promote STACK=prod IMAGE_REF=X@X"]
    assert "docker/build-push-action" not in str(release), (
        "prod must not rebuild: promote the digest"
    )
    assert "sha-$GITHUB_SHA" in prod and "sha-${{ github.sha }}" in str(main)


def test_sunset_runs_an_unchanged_up_of_each_versioned_stack_hourly() -> None:
    sunset = _workflows()["sunset.yml"]
    assert sunset["on"]["schedule"][0]["cron"].split()[1:] == ["*", "*", "*", "*"]
    for job, stack in (("staging", "staging"), ("prod", "prod")):
        assert make_commands(_run_scripts(sunset, job)) == [f"make deploy STACK={stack}"]
        # The same lock as the deploys of that stack: never two `up`s of one stack at once.
        assert sunset["jobs"][job]["concurrency"]["group"] == f"deploy-{stack}"
    for name in ("sunset.yml", "main.yml", "release.yml"):
        assert "temporal-" in str(_workflows()[name]), (
            f"{name}: no Temporal credentials for routing"
        )


def _dry_run_with(*args: str, path: str | None = None) -> list[str]:
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    proc = subprocess.run(
        [MAKE, "-n", "--no-print-directory", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    stamp = re.compile(r"^(test -x \S+python|\S+python -m pip install|touch \S+\.installed)")
    return [line.strip() for line in proc.stdout.splitlines() if not stamp.match(line)]


@pytest.fixture
def runner_path(tmp_path: Path) -> str:
    """A PATH like a CI runner's: a ``pulumi`` on it (a stub; make -n never runs it)."""
    stub = tmp_path / "pulumi"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    return f"{tmp_path}{os.pathsep}{os.environ['PATH']}"


def test_make_targets_expand_to_the_documented_commands(runner_path: str) -> None:
    ref = "ghcr.io/acme/worker@sha256:" + "a" * 64

    def _dry_run(*args: str) -> list[str]:
        return _dry_run_with(*args, path=runner_path)

    assert _dry_run("preview-up", "PR=12", f"IMAGE_REF={ref}") == [
        f".venv/bin/python -m infra.preview up 12 --image-ref {ref}"
    ]
    assert _dry_run("preview-destroy", "PR=12") == [".venv/bin/python -m infra.preview destroy 12"]
    assert _dry_run("preview-gc", "TTL=24h") == [".venv/bin/python -m infra.preview gc --ttl 24h"]
    gate = " ".join(_dry_run("policy-gate", "STACK=prod", "POLICY_PROFILE=production"))
    assert shlex.split(gate.replace("\\", " ")) == shlex.split(
        "pulumi preview --stack prod --policy-pack policies "
        "--policy-pack-config policies/config/production.json"
    )
    promote = _dry_run("promote", "STACK=prod", f"IMAGE_REF={ref}")
    assert f"pulumi config set --stack prod --path image.ref {ref}" in promote
    up = " ".join(
        line.rstrip("\\")
        for line in promote
        if "pulumi up" in line or "--policy-pack-config" in line
    )
    assert shlex.split(up) == shlex.split(
        "pulumi up --stack prod --yes --non-interactive --policy-pack policies "
        "--policy-pack-config policies/config/production.json"
    )


@pytest.mark.parametrize(
    "target",
    [
        ("policy-gate", "STACK=prod"),
        ("promote", "STACK=prod", "IMAGE_REF=r@sha256:" + "a" * 64),
        ("deploy", "STACK=prod"),
        ("preview-up", "PR=12"),
        ("preview-destroy", "PR=12"),
        ("preview-list",),
        ("preview-gc",),
    ],
    ids=lambda t: t[0],
)
def test_engine_targets_use_the_kits_engine_without_a_pulumi_on_path(
    target: tuple[str, ...], tmp_path: Path
) -> None:
    """No `pulumi` on PATH: every engine command goes through scripts/with-engine."""
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("bash", "sh"):
        (bare / tool).symlink_to(shutil.which(tool) or f"/bin/{tool}")
    lines = _dry_run_with(*target, path=str(bare))
    engine = [line for line in lines if "pulumi " in line or "infra.preview" in line]
    assert engine, lines
    for line in engine:
        assert line.startswith("scripts/with-engine "), line
