"""The whole program under Pulumi mocks: every stack file, image modes, provider, secrets."""

from __future__ import annotations

import re
from typing import Any

import pytest

from infra.contract import PROJECT
from tests.infra.harness import (
    REPO,
    ProgramRun,
    normalise,
    plain_strings,
    run_program,
    stack_file_config,
    stack_files,
)
from tests.infra.k8s_schema import validate_object
from tests.infra.samples import base_config

pytestmark = pytest.mark.unit

DIGEST_REF = re.compile(r"^[a-z0-9][a-z0-9._/:-]*@sha256:[0-9a-f]{64}$")
QUEUE_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
    "temporal.io/task-queue",
)


def _deployments(run: ProgramRun) -> list[dict[str, Any]]:
    return [o for o in run.k8s_objects() if o["kind"] == "Deployment"]


def _env(deployment: dict[str, Any]) -> dict[str, Any]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_every_environment_has_a_stack_file() -> None:
    assert {"dev", "staging", "prod", "preview", "local"} <= set(stack_files())
    project = (REPO / "Pulumi.yaml").read_text()
    assert f"name: {PROJECT}" in project
    assert "main: infra/" in project
    assert "virtualenv: .venv" in project


@pytest.mark.parametrize("stack", stack_files())
def test_stack_file_produces_valid_objects(stack: str) -> None:
    config = stack_file_config(stack)
    run = run_program(config, stack=stack)
    objects = run.k8s_objects()
    queues = set(config["queues"])
    assert len(queues) == 3
    for obj in objects:
        validate_object(obj)
    for obj in objects:
        if obj["kind"] == "Namespace":
            continue
        labels = obj["metadata"]["labels"]
        assert all(key in labels for key in QUEUE_LABELS), obj["metadata"]["name"]
        assert labels["app.kubernetes.io/instance"] == stack
        assert labels["temporal.io/task-queue"] in queues
    deployments = _deployments(run)
    assert {_env(d)["TEMPORAL_TASK_QUEUE"] for d in deployments} == queues
    hpas = {
        o["spec"]["scaleTargetRef"]["name"]: o
        for o in objects
        if o["kind"] == "HorizontalPodAutoscaler"
    }
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert DIGEST_REF.match(container["image"]), container["image"]
        graceful = int(_env(deployment)["WORKER_GRACEFUL_SHUTDOWN_SECONDS"])
        assert pod["terminationGracePeriodSeconds"] >= graceful + 10
        assert container["lifecycle"]["preStop"]["exec"]["command"] == [
            "python",
            "-m",
            "workerkit",
            "drain",
        ]
        name = deployment["metadata"]["name"]
        assert "replicas" not in deployment["spec"]
        assert hpas[name]["spec"]["minReplicas"] >= 2
        assert any(
            o["kind"] == "PodDisruptionBudget" and o["metadata"]["name"] == name for o in objects
        )
    namespace = run.exports["namespace"]
    assert all(o["metadata"]["namespace"] == namespace for o in objects if o["kind"] != "Namespace")
    assert set(run.exports["queues"]) == queues
    for queue, out in run.exports["queues"].items():
        assert out["namespace"] == namespace
        assert out["imageDigest"] == run.exports["image"]["digest"]
        assert any(
            d["metadata"]["name"] == out["workload"] and _env(d)["TEMPORAL_TASK_QUEUE"] == queue
            for d in deployments
        )


def test_staging_and_prod_deploy_the_promoted_digest_without_building() -> None:
    for stack in ("staging", "prod"):
        config = stack_file_config(stack)
        run = run_program(config, stack=stack)
        assert run.of_type("docker-build:index:Image") == []
        assert run.of_type("docker:index/image:Image") == []
        images = {
            d["spec"]["template"]["spec"]["containers"][0]["image"] for d in _deployments(run)
        }
        assert images == {config["image"]["ref"]}
        assert run.exports["image"]["digest"] == config["image"]["ref"].split("@")[1]


def test_docker_build_image_is_built_with_host_network_and_build_args() -> None:
    config = base_config()
    config["image"].update(
        {
            "repository": "temporal-workers/worker",
            "baseImage": "debian-base:local",
            "wheelhouse": "wheelhouse",
            "version": "1.2.3",
            "revision": "abc123",
            "sourceUrl": "https://example.com/repo",
        }
    )
    run = run_program(config)
    (image,) = run.of_type("docker-build:index:Image")
    inputs = image.inputs
    assert inputs["network"] == "host"
    assert inputs["buildArgs"] == {
        "BASE_IMAGE": "debian-base:local",
        "BUILD_ID": "b1",
        "VERSION": "1.2.3",
        "REVISION": "abc123",
        "SOURCE": "https://example.com/repo",
        "WHEELHOUSE": "wheelhouse",
    }
    assert inputs["context"]["location"] == str(REPO / "worker_image")
    assert inputs["dockerfile"]["location"] == str(REPO / "worker_image" / "Dockerfile")
    assert inputs["tags"] == ["temporal-workers/worker:b1"]
    assert (inputs["push"], inputs["load"]) == (False, True)
    (deployment,) = _deployments(run)
    image_ref = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image_ref == run.exports["image"]["ref"]
    assert image_ref.startswith("temporal-workers/worker@sha256:")


def test_docker_provider_image_is_selectable() -> None:
    config = base_config()
    config["image"].update(
        {
            "builder": "docker",
            "repository": "registry.example.com:5000/acme/worker",
            "push": True,
            "registry": {"address": "registry.example.com:5000", "username": "ci"},
        }
    )
    run = run_program(config)
    assert run.of_type("docker-build:index:Image") == []
    (image,) = run.of_type("docker:index/image:Image")
    assert image.inputs["imageName"] == "registry.example.com:5000/acme/worker:b1"
    assert image.inputs["build"]["network"] == "host"
    assert image.inputs["build"]["args"]["BUILD_ID"] == "b1"
    assert image.inputs["skipPush"] is False
    assert image.inputs["registry"]["server"] == "registry.example.com:5000"
    (deployment,) = _deployments(run)
    ref = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert ref.startswith("registry.example.com:5000/acme/worker@sha256:")


def test_versioning_build_id_comes_from_the_image() -> None:
    config = base_config()
    config["versioning"] = {"enabled": True, "defaultBehavior": "auto-upgrade"}
    (deployment,) = _deployments(run_program(config))
    env = _env(deployment)
    assert env["TEMPORAL_WORKER_BUILD_ID"] == "b1"
    assert env["TEMPORAL_DEPLOYMENT_NAME"] == "temporal-workers-billing"
    assert env["WORKER_VERSIONING_DEFAULT_BEHAVIOR"] == "auto-upgrade"


def test_default_provider_unless_kubeconfig_or_context_is_configured() -> None:
    run = run_program(base_config())
    assert run.of_type("pulumi:providers:kubernetes") == []
    config = base_config()
    config["kubernetes"] = {"kubeconfig": ".cache/local-cluster/kubeconfig", "context": "local"}
    run = run_program(config)
    (provider,) = run.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == str(REPO / ".cache/local-cluster/kubeconfig")
    assert provider.inputs["context"] == "local"
    k8s = [r for r in run.registrations if r.typ.startswith("kubernetes:")]
    assert k8s and all("pulumi:providers:kubernetes::kubernetes::" in r.provider for r in k8s)


def test_existing_namespace_is_not_created() -> None:
    config = base_config()
    config["namespace"] = {"name": "team-orders", "create": False}
    run = run_program(config)
    assert run.of_type("kubernetes:core/v1:Namespace") == []
    assert {o["metadata"]["namespace"] for o in run.k8s_objects()} == {"team-orders"}
    assert run.exports["namespace"] == "team-orders"


def test_created_namespace_enforces_restricted_pod_security() -> None:
    config = base_config()
    config["namespace"] = {"labels": {"temporal-workers.io/ttl-hours": "48"}}
    run = run_program(config, stack="pr-12")
    (namespace,) = run.of_type("kubernetes:core/v1:Namespace")
    labels = namespace.inputs["metadata"]["labels"]
    assert namespace.inputs["metadata"]["name"] == "temporal-workers-pr-12"
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["temporal-workers.io/ttl-hours"] == "48"
    assert labels["app.kubernetes.io/instance"] == "pr-12"


def test_preview_runs_with_unknown_image_digest() -> None:
    run = run_program(stack_file_config("dev"), stack="dev", preview=True)
    assert len(_deployments(run)) == 3


SECRETS = {
    "api_key": "tk-SECRET-api-key-4711",
    "cert": "-----BEGIN CERTIFICATE-----SECRETCERT",
    "key": "-----BEGIN PRIVATE KEY-----SECRETKEY",
    "ca": "-----BEGIN CERTIFICATE-----SECRETCA",
    "stripe": "sk_live_SECRET_stripe",
    "registry": "SECRET-registry-token",
}


def test_secret_values_never_appear_in_plain_text() -> None:
    config = base_config()
    config["temporal"].update(
        {
            "apiKey": SECRETS["api_key"],
            "tls": {
                "clientCert": SECRETS["cert"],
                "clientKey": SECRETS["key"],
                "serverCaCert": SECRETS["ca"],
            },
        }
    )
    config["queues"]["billing"]["secretEnv"] = {"STRIPE_KEY": SECRETS["stripe"]}
    config["image"].update(
        {
            "push": True,
            "repository": "ghcr.io/acme/worker",
            "registry": {
                "address": "ghcr.io",
                "username": "ci",
                "password": SECRETS["registry"],
            },
        }
    )
    run = run_program(config, secret_keys=["temporal", "queues", "image"])
    for registration in run.registrations:
        for text in plain_strings(registration.inputs):
            for secret in SECRETS.values():
                assert secret not in text, f"{secret!r} in plain text in {registration.name}"
    for name, value in run.exports.items():
        if name not in run.secret_exports:
            assert not any(s in text for text in plain_strings(value) for s in SECRETS.values())
    # ...and the secrets do reach the cluster, wrapped as secrets.
    (secret_object,) = [o for o in run.k8s_objects() if o["kind"] == "Secret"]
    assert secret_object["stringData"] == {
        "TEMPORAL_API_KEY": SECRETS["api_key"],
        "tls.crt": SECRETS["cert"],
        "tls.key": SECRETS["key"],
        "ca.crt": SECRETS["ca"],
        "STRIPE_KEY": SECRETS["stripe"],
    }
    (image,) = run.of_type("docker-build:index:Image")
    assert SECRETS["registry"] in repr(image.inputs["registries"])  # delivered, but only wrapped


def test_plain_text_scan_would_catch_a_leak() -> None:
    wrapped = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "x"}
    assert list(plain_strings({"a": [wrapped, "leak"]})) == ["a", "leak"]


def test_keda_mode_registers_a_scaled_object_custom_resource_instead_of_an_hpa() -> None:
    config = base_config()
    config["queues"]["billing"]["autoscaling"] = {"mode": "keda", "minReplicas": 3}
    run = run_program(config)
    assert run.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler") == []
    (scaled,) = run.of_type("kubernetes:keda.sh/v1alpha1:ScaledObject")
    obj = normalise(scaled.inputs)
    validate_object(obj)
    assert obj["spec"]["minReplicaCount"] == 3
    assert obj["spec"]["scaleTargetRef"]["name"] == "billing-worker"
    assert scaled.name == "billing-worker"
