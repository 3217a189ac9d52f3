"""The versioned path of the program under mocks, with a faked cluster ledger and Temporal Describe.

Each test states what the cluster runs and what Temporal reports, and checks what the program
declares: which builds keep a Deployment, which serve (autoscaler) or sit at 0, which versions the
rollout resource deletes, and the one-line errors.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.versions.build_id import from_digest
from infra.versions.observe import QueueObservation
from infra.versions.plan import LiveBuild
from infra.versions.temporal_api import DeploymentSnapshot, VersionSummary
from tests.infra.harness import EngineLog, ProgramRun, run_program
from tests.infra.k8s_schema import validate_object
from tests.infra.samples import base_config

pytestmark = pytest.mark.unit

REPO = "registry.example.com/acme/worker"
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
A, B = from_digest(DIGEST_A), from_digest(DIGEST_B)
NOW = datetime.now(UTC)


def _config(digest: str = DIGEST_B, **versioning: Any) -> dict[str, Any]:
    config = base_config()
    config["image"] = {"source": "prebuilt", "ref": f"{REPO}@{digest}"}
    config["versioning"] = {"enabled": True, **versioning}
    return config


def _snapshot(current: str | None, **statuses: tuple[str, datetime | None]) -> DeploymentSnapshot:
    versions = {
        build: VersionSummary(build, status, NOW - timedelta(days=2), drained, None)
        for build, (status, drained) in statuses.items()
    }
    return DeploymentSnapshot(
        name="temporal-workers-billing",
        current=current,
        ramping=None,
        ramp_percent=0.0,
        ramp_changed=None,
        versions=versions,
        conflict_token=b"t",
        manager="",
        routing_complete=True,
    )


def _by_kind(run: ProgramRun, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in run.k8s_objects() if o["kind"] == kind}


def _rollout(run: ProgramRun) -> dict[str, Any]:
    registrations = [r for r in run.registrations if r.name.endswith("-rollout")]
    (only,) = registrations
    return only.inputs


def _name(build: str) -> str:
    return f"billing-worker-{build}"


def test_first_deploy_names_labels_and_promotes_the_digest_build() -> None:
    run = run_program(_config())
    deployments = _by_kind(run, "Deployment")
    assert list(deployments) == [_name(B)]
    deployment = deployments[_name(B)]
    validate_object(deployment)
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["temporal.io/build-id"] == B
    assert labels["temporal.io/deployment-name"] == "temporal-workers-billing"
    assert deployment["spec"]["selector"]["matchLabels"]["temporal.io/build-id"] == B
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["TEMPORAL_WORKER_BUILD_ID"] == B
    assert container["image"] == f"{REPO}@{DIGEST_B}"
    (hpa,) = _by_kind(run, "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"]["name"] == _name(B)
    assert hpa["spec"]["minReplicas"] >= 2
    (pdb,) = _by_kind(run, "PodDisruptionBudget").values()
    assert pdb["spec"]["selector"]["matchLabels"]["temporal.io/build-id"] == B
    rollout = _rollout(run)
    assert rollout["target"] == B and rollout["pending"] is True and rollout["retire"] == []
    assert rollout["identity"] == "pulumi/temporal-workers/dev"


def test_a_new_digest_keeps_the_current_build_serving_next_to_the_target() -> None:
    observation = QueueObservation(
        live=[LiveBuild(A, f"{REPO}@{DIGEST_A}")], snapshot=_snapshot(A, **{A: ("current", None)})
    )
    run = run_program(_config(), observations={"billing": observation})
    deployments = _by_kind(run, "Deployment")
    assert set(deployments) == {_name(A), _name(B)}
    old = deployments[_name(A)]
    assert old["spec"]["template"]["spec"]["containers"][0]["image"] == f"{REPO}@{DIGEST_A}"
    assert "replicas" not in old["spec"]  # its HPA owns the count
    assert set(_by_kind(run, "HorizontalPodAutoscaler")) == {_name(A), _name(B)}
    assert old["metadata"]["annotations"]["temporal-workers.io/version-role"] == "current"
    assert _rollout(run)["pending"] is True


def test_draining_versions_keep_their_floor_and_drained_ones_wait_for_the_scaledown_delay() -> None:
    for status, drained in (("draining", None), ("drained", NOW - timedelta(minutes=10))):
        observation = QueueObservation(
            live=[LiveBuild(A, f"{REPO}@{DIGEST_A}")],
            snapshot=_snapshot(B, **{A: (status, drained), B: ("current", None)}),
        )
        run = run_program(_config(), observations={"billing": observation})
        assert set(_by_kind(run, "HorizontalPodAutoscaler")) == {_name(A), _name(B)}, status
        assert _rollout(run)["pending"] is False  # B is current: nothing to route


def test_drained_past_the_delay_is_scaled_to_zero_without_autoscaler() -> None:
    observation = QueueObservation(
        live=[LiveBuild(A, f"{REPO}@{DIGEST_A}")],
        snapshot=_snapshot(B, **{A: ("drained", NOW - timedelta(hours=2)), B: ("current", None)}),
    )
    before = datetime.now(UTC)
    run = run_program(_config(), observations={"billing": observation})
    old = _by_kind(run, "Deployment")[_name(A)]
    assert old["spec"]["replicas"] == 0
    assert old["metadata"]["annotations"]["temporal-workers.io/version-role"] == "drained"
    stamp = old["metadata"]["annotations"]["temporal-workers.io/scaled-down-at"]
    assert before <= datetime.fromisoformat(stamp) <= datetime.now(UTC)  # this run's time
    assert set(_by_kind(run, "HorizontalPodAutoscaler")) == {_name(B)}
    assert _rollout(run)["retire"] == []


def test_scaled_down_past_the_delete_delay_is_retired_in_temporal_then_removed() -> None:
    observation = QueueObservation(
        live=[LiveBuild(A, f"{REPO}@{DIGEST_A}", scaled_down_at=NOW - timedelta(days=2))],
        snapshot=_snapshot(B, **{A: ("drained", NOW - timedelta(days=3)), B: ("current", None)}),
    )
    run = run_program(_config(), observations={"billing": observation})
    assert set(_by_kind(run, "Deployment")) == {_name(B)}
    rollout = _rollout(run)
    assert rollout["retire"] == [A] and rollout["pending"] is True


def test_a_version_scaled_down_less_than_the_delete_delay_ago_is_kept_at_zero() -> None:
    stamp = NOW - timedelta(hours=3)
    observation = QueueObservation(
        live=[LiveBuild(A, f"{REPO}@{DIGEST_A}", scaled_down_at=stamp)],
        snapshot=_snapshot(B, **{A: ("drained", NOW - timedelta(days=3)), B: ("current", None)}),
    )
    run = run_program(_config(), observations={"billing": observation})
    old = _by_kind(run, "Deployment")[_name(A)]
    assert old["spec"]["replicas"] == 0
    annotation = old["metadata"]["annotations"]["temporal-workers.io/scaled-down-at"]
    assert annotation == stamp.isoformat()  # the delay runs from the first scale-down


def test_rollback_to_a_scaled_down_build_serves_it_again() -> None:
    observation = QueueObservation(
        live=[
            LiveBuild(A, f"{REPO}@{DIGEST_A}", scaled_down_at=NOW - timedelta(hours=1)),
            LiveBuild(B, f"{REPO}@{DIGEST_B}"),
        ],
        snapshot=_snapshot(B, **{A: ("drained", NOW - timedelta(hours=3)), B: ("current", None)}),
    )
    run = run_program(_config(DIGEST_A), observations={"billing": observation})
    deployments = _by_kind(run, "Deployment")
    assert "replicas" not in deployments[_name(A)]["spec"]
    assert set(_by_kind(run, "HorizontalPodAutoscaler")) == {_name(A), _name(B)}
    assert _rollout(run)["target"] == A and _rollout(run)["pending"] is True


def test_temporal_unreachable_on_up_is_one_line_and_registers_no_workload() -> None:
    observation = QueueObservation(
        live=[LiveBuild(A, f"{REPO}@{DIGEST_A}")], temporal_error="connection refused"
    )
    log = EngineLog()
    registered: list[str] = []
    with pytest.raises(SystemExit) as exit_info:
        run_program(
            _config(),
            observations={"billing": observation},
            logger=log.logger,
            on_registration=lambda r: registered.append(r.typ),
        )
    assert exit_info.value.code == 32
    (error,) = log.errors()
    assert error == (
        "versioning: cannot read the Worker Deployments at "
        "temporal-frontend.temporal:7233: connection refused; nothing was changed"
    )
    assert not [t for t in registered if t.startswith("kubernetes:")]


def test_preview_without_temporal_keeps_every_live_version_and_says_so() -> None:
    observation = QueueObservation(
        live=[
            LiveBuild(A, f"{REPO}@{DIGEST_A}", NOW - timedelta(days=9), role="drained"),
            LiveBuild("old", f"{REPO}@{DIGEST_A}"),
        ],
        temporal_error="no credentials",
    )
    log = EngineLog()
    run = run_program(
        _config(), preview=True, observations={"billing": observation}, logger=log.logger
    )
    deployments = _by_kind(run, "Deployment")
    assert set(deployments) == {_name(A), _name(B), _name("old")}
    assert deployments[_name(A)]["spec"]["replicas"] == 0  # kept as it is, not removed
    annotations = deployments[_name(A)]["metadata"]["annotations"]
    assert annotations["temporal-workers.io/version-role"] == "drained"  # as last rendered
    assert _rollout(run)["pending"] is False  # kept registered: a preview shows no delete
    warnings = [m for level, m in log.records if level == logging.WARNING]
    assert warnings == [
        "versioning: cannot read the Worker Deployments at temporal-frontend.temporal:7233: "
        "no credentials; preview keeps every live version as it is"
    ]


def test_reusing_an_explicit_build_id_for_another_digest_is_rejected() -> None:
    config = _config(buildId="release-1")
    config["image"]["buildId"] = "release-1"
    del config["versioning"]["buildId"]
    observation = QueueObservation(live=[LiveBuild("release-1", f"{REPO}@{DIGEST_A}")])
    log = EngineLog()
    with pytest.raises(SystemExit):
        run_program(config, observations={"billing": observation}, logger=log.logger)
    (error,) = log.errors()
    assert error.startswith("temporal-workers:image.buildId 'release-1' already runs image ")
    assert "image.ref now names sha256:bbbb" in error


def test_switching_versioning_on_keeps_the_unversioned_workers_until_drained() -> None:
    image_a = f"{REPO}@{DIGEST_A}"
    before = QueueObservation(unversioned_image=image_a, snapshot=None, backlog=3)
    run = run_program(_config(), observations={"billing": before})
    assert set(_by_kind(run, "Deployment")) == {"billing-worker", _name(B)}
    busy = QueueObservation(
        unversioned_image=image_a, snapshot=_snapshot(B, **{B: ("current", None)}), backlog=3
    )
    run = run_program(_config(), observations={"billing": busy})
    assert "billing-worker" in _by_kind(run, "Deployment")
    idle = QueueObservation(
        unversioned_image=image_a, snapshot=_snapshot(B, **{B: ("current", None)}), backlog=0
    )
    run = run_program(_config(), observations={"billing": idle})
    assert set(_by_kind(run, "Deployment")) == {_name(B)}


def test_the_image_label_and_the_pods_build_id_agree_when_the_program_builds() -> None:
    config = base_config()
    del config["image"]["buildId"]
    config["versioning"] = {"enabled": True}
    run = run_program(config)
    (image,) = run.of_type("docker-build:index:Image")
    build_id = image.inputs["buildArgs"]["BUILD_ID"]
    assert build_id.startswith("ctx-")
    (deployment,) = _by_kind(run, "Deployment").values()
    env = {
        e["name"]: e.get("value")
        for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["TEMPORAL_WORKER_BUILD_ID"] == build_id
    assert deployment["metadata"]["name"] == _name(build_id)
