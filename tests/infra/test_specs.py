"""Pure spec functions: settings in, Kubernetes objects (plain dicts) out."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from infra.contract import DRAIN_COMMAND
from infra.names import dns_label, label_value, queue_labels
from infra.quantity import parse_quantity
from infra.specs.autoscaling import hpa_object, scaled_object
from infra.specs.dashboard import dashboard_object, dashboard_queries
from infra.specs.deployment import CHECKSUM_ANNOTATION, deployment_object
from infra.specs.queue import queue_objects
from infra.specs.release import Release
from infra.specs.worker_config import config_map_object
from tests.infra.k8s_schema import validate_object
from tests.infra.samples import base_config, only_queue, settings_of

pytestmark = pytest.mark.unit

IMAGE = "ghcr.io/acme/worker@sha256:" + "ab" * 32
NS = "temporal-workers-dev"


def _objects(config: dict[str, Any], secret_keys: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    settings = settings_of(config, secret_keys)
    queue = only_queue(settings)
    return queue_objects(settings, queue, NS, IMAGE, "b1", {})


def _kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def _deployment(config: dict[str, Any]) -> dict[str, Any]:
    settings = settings_of(config)
    return deployment_object(settings, only_queue(settings), NS, IMAGE, "b1")


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def _env(deployment: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in _container(deployment)["env"]}


def test_default_queue_objects_are_valid_and_complete() -> None:
    objects = _objects(base_config())
    kinds = [o["kind"] for o in objects]
    assert kinds == [
        "ServiceAccount",
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Service",
    ]
    for obj in objects:
        validate_object(obj)


def test_every_object_carries_the_design_labels() -> None:
    config = base_config()
    config["queues"]["billing"].update(
        {"serviceMonitor": {"enabled": True}, "dashboard": {"enabled": True}}
    )
    objects = _objects(config)
    assert len(objects) == 8
    expected = {
        "app.kubernetes.io/name": "temporal-worker",
        "app.kubernetes.io/instance": "dev",
        "app.kubernetes.io/component": "billing",
        "app.kubernetes.io/part-of": "temporal-workers",
        "app.kubernetes.io/managed-by": "pulumi",
        "temporal.io/task-queue": "billing",
    }
    for obj in objects:
        assert expected.items() <= obj["metadata"]["labels"].items(), obj["kind"]
        assert obj["metadata"]["namespace"] == NS


def test_validator_rejects_a_broken_object() -> None:
    deployment = _deployment(base_config())
    deployment["spec"]["template"]["spec"]["terminationGracePeriod"] = 40
    with pytest.raises(Exception, match="terminationGracePeriod"):
        validate_object(deployment)
    scaled = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {}, "spec": {}}
    with pytest.raises(jsonschema.ValidationError):
        validate_object(scaled)


def test_deployment_has_no_replicas_when_an_autoscaler_owns_them() -> None:
    assert "replicas" not in _deployment(base_config())["spec"]
    config = base_config()
    config["queues"]["billing"]["autoscaling"] = {"mode": "keda"}
    assert "replicas" not in _deployment(config)["spec"]
    config["queues"]["billing"].update({"autoscaling": {"mode": "fixed"}, "replicas": 3})
    assert _deployment(config)["spec"]["replicas"] == 3


def test_rollout_and_drain_settings() -> None:
    config = base_config()
    config["queues"]["billing"].update(
        {"gracefulShutdownSeconds": 45, "terminationBufferSeconds": 12}
    )
    deployment = _deployment(config)
    spec = deployment["spec"]
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
    }
    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 57
    container = _container(deployment)
    assert container["lifecycle"]["preStop"]["exec"]["command"] == [
        "python",
        "-m",
        "workerkit",
        "drain",
    ]
    assert tuple(container["lifecycle"]["preStop"]["exec"]["command"]) == DRAIN_COMMAND
    assert _env(deployment)["WORKER_GRACEFUL_SHUTDOWN_SECONDS"] == "45"


def test_default_grace_covers_drain_plus_policy_buffer() -> None:
    deployment = _deployment(base_config())
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= int(_env(deployment)["WORKER_GRACEFUL_SHUTDOWN_SECONDS"]) + 10


def test_probes_hit_the_workerkit_endpoints() -> None:
    container = _container(_deployment(base_config()))
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"health": 8080, "metrics": 9090}
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    env = _env(_deployment(base_config()))
    assert env["WORKER_HEALTH_PORT"] == "8080"
    assert env["WORKER_METRICS_PORT"] == "9090"


def test_restricted_security_context() -> None:
    deployment = _deployment(base_config())
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["automountServiceAccountToken"] is False
    security = _container(deployment)["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["runAsNonRoot"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    mounts = {m["mountPath"]: m["name"] for m in _container(deployment)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


def test_node_selector_and_claim_volumes_reach_the_pod() -> None:
    config = base_config()
    queue = config["queues"]["billing"]
    queue["nodeSelector"] = {"twk.local/node-kind": "real"}
    queue["tolerations"] = [{"key": "pool", "operator": "Exists", "effect": "NoSchedule"}]
    queue["volumes"] = {"blobs": {"claimName": "orders-blobs", "mountPath": "/var/lib/blobs"}}
    deployment = _deployment(config)
    pod = deployment["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"twk.local/node-kind": "real"}
    assert pod["tolerations"] == [{"key": "pool", "operator": "Exists", "effect": "NoSchedule"}]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["blobs"]["persistentVolumeClaim"] == {
        "claimName": "orders-blobs",
        "readOnly": False,
    }
    mounts = {m["name"]: m for m in _container(deployment)["volumeMounts"]}
    assert mounts["blobs"] == {"name": "blobs", "mountPath": "/var/lib/blobs", "readOnly": False}
    validate_object(deployment)
    assert "nodeSelector" not in _deployment(base_config())["spec"]["template"]["spec"]


def test_topology_spread_across_nodes_and_zones() -> None:
    config = base_config()
    config["queues"]["billing"]["topologySpread"] = {"nodes": "DoNotSchedule"}
    constraints = _deployment(config)["spec"]["template"]["spec"]["topologySpreadConstraints"]
    by_key = {c["topologyKey"]: c["whenUnsatisfiable"] for c in constraints}
    assert by_key == {
        "kubernetes.io/hostname": "DoNotSchedule",
        "topology.kubernetes.io/zone": "ScheduleAnyway",
    }
    selector = _deployment(config)["spec"]["selector"]["matchLabels"]
    assert all(c["labelSelector"]["matchLabels"] == selector for c in constraints)


def test_resources_defaults_and_overrides() -> None:
    assert _container(_deployment(base_config()))["resources"] == {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"memory": "512Mi"},
    }
    config = base_config()
    config["defaults"] = {"resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "2"}}}
    config["queues"]["billing"]["resources"] = {"limits": {"memory": "1Gi"}}
    assert _container(_deployment(config))["resources"] == {
        "requests": {"cpu": "1", "memory": "256Mi"},
        "limits": {"cpu": "2", "memory": "1Gi"},
    }


def test_worker_config_file_is_mounted_and_its_checksum_rolls_pods() -> None:
    config = base_config()
    config["queues"]["billing"]["tuning"] = {"maxConcurrentActivities": 200, "logLevel": "DEBUG"}
    settings = settings_of(config)
    queue = only_queue(settings)
    config_map = config_map_object(settings, queue, NS)
    assert json.loads(config_map["data"]["worker.json"]) == {
        "WORKER_MAX_CONCURRENT_ACTIVITIES": 200,
        "WORKER_LOG_LEVEL": "DEBUG",
    }
    deployment = _deployment(config)
    assert _env(deployment)["WORKER_CONFIG_FILE"] == "/etc/workerkit/worker.json"
    volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if "configMap" in v)
    assert volume["configMap"]["name"] == config_map["metadata"]["name"]
    before = deployment["spec"]["template"]["metadata"]["annotations"][CHECKSUM_ANNOTATION]
    assert (
        before
        == _deployment(config)["spec"]["template"]["metadata"]["annotations"][CHECKSUM_ANNOTATION]
    )
    config["queues"]["billing"]["tuning"]["maxConcurrentActivities"] = 300
    after = _deployment(config)["spec"]["template"]["metadata"]["annotations"][CHECKSUM_ANNOTATION]
    assert after != before


def test_contract_env_and_image_by_digest() -> None:
    deployment = _deployment(base_config())
    env = _env(deployment)
    assert env["TEMPORAL_ADDRESS"] == "temporal-frontend.temporal:7233"
    assert env["TEMPORAL_NAMESPACE"] == "orders"
    assert env["TEMPORAL_TASK_QUEUE"] == "billing"
    assert env["WORKER_APP"] == "orders_app.queues:billing"
    assert env["TEMPORAL_TLS"] == "false"
    assert "TEMPORAL_DEPLOYMENT_NAME" not in env
    assert "TEMPORAL_WORKER_BUILD_ID" not in env
    assert _container(deployment)["image"] == IMAGE


def test_versioning_sets_both_names_or_neither() -> None:
    config = base_config()
    config["versioning"] = {"enabled": True}
    env = _env(_deployment(config))
    assert env["TEMPORAL_DEPLOYMENT_NAME"] == "temporal-workers-billing"
    assert env["TEMPORAL_WORKER_BUILD_ID"] == "b1"
    assert env["WORKER_VERSIONING_DEFAULT_BEHAVIOR"] == "pinned"


def test_api_key_from_secret_config_is_a_secret_key_ref_to_the_queue_secret() -> None:
    config = base_config()
    config["temporal"]["apiKey"] = "tk-123"
    settings = settings_of(config, ("temporal",))
    queue = only_queue(settings)
    objects = queue_objects(settings, queue, NS, IMAGE, None, {"TEMPORAL_API_KEY": "<secret>"})
    (secret,) = _kind(objects, "Secret")
    assert secret["stringData"] == {"TEMPORAL_API_KEY": "<secret>"}
    env = _env(_kind(objects, "Deployment")[0])
    assert env["TEMPORAL_API_KEY"] == {
        "secretKeyRef": {"name": "billing-worker-secrets", "key": "TEMPORAL_API_KEY"}
    }
    assert env["TEMPORAL_TLS"] == "true"
    assert "tk-123" not in json.dumps(objects)


def test_api_key_reference_to_existing_secret() -> None:
    config = base_config()
    config["temporal"]["apiKeySecretRef"] = {"name": "temporal-cloud", "key": "api-key"}
    objects = _objects(config)
    assert _kind(objects, "Secret") == []
    env = _env(_kind(objects, "Deployment")[0])
    assert env["TEMPORAL_API_KEY"] == {"secretKeyRef": {"name": "temporal-cloud", "key": "api-key"}}


def test_mtls_from_existing_secret_is_mounted_with_envconfig_paths() -> None:
    config = base_config()
    config["temporal"]["tls"] = {
        "existingSecret": {"name": "temporal-mtls", "caKey": ""},
        "serverName": "orders.tmprl.cloud",
    }
    deployment = _deployment(config)
    env = _env(deployment)
    assert env["TEMPORAL_TLS"] == "true"
    assert env["TEMPORAL_TLS_CLIENT_CERT_PATH"] == "/etc/temporal/tls/tls.crt"
    assert env["TEMPORAL_TLS_CLIENT_KEY_PATH"] == "/etc/temporal/tls/tls.key"
    assert env["TEMPORAL_TLS_SERVER_NAME"] == "orders.tmprl.cloud"
    assert "TEMPORAL_TLS_SERVER_CA_CERT_PATH" not in env
    volume = next(
        v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "temporal-tls"
    )
    assert volume["secret"]["secretName"] == "temporal-mtls"
    assert [i["path"] for i in volume["secret"]["items"]] == ["tls.crt", "tls.key"]
    mount = next(m for m in _container(deployment)["volumeMounts"] if m["name"] == "temporal-tls")
    assert mount == {"name": "temporal-tls", "mountPath": "/etc/temporal/tls", "readOnly": True}


def test_inline_mtls_files_go_to_the_queue_secret() -> None:
    config = base_config()
    config["temporal"]["tls"] = {"clientCert": "CERT", "clientKey": "KEY", "serverCaCert": "CA"}
    settings = settings_of(config, ("temporal",))
    objects = queue_objects(
        settings,
        only_queue(settings),
        NS,
        IMAGE,
        None,
        {"tls.crt": "c", "tls.key": "k", "ca.crt": "a"},
    )
    deployment = _kind(objects, "Deployment")[0]
    env = _env(deployment)
    assert env["TEMPORAL_TLS_SERVER_CA_CERT_PATH"] == "/etc/temporal/tls/ca.crt"
    volume = next(
        v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "temporal-tls"
    )
    assert volume["secret"]["secretName"] == "billing-worker-secrets"
    assert {i["key"] for i in volume["secret"]["items"]} == {"tls.crt", "tls.key", "ca.crt"}


def test_env_and_secret_env() -> None:
    config = base_config()
    config["queues"]["billing"]["env"] = {"PAYMENTS_URL": "https://pay", "RETRIES": 3}
    config["queues"]["billing"]["secretEnv"] = {
        "STRIPE_KEY": {"secretKeyRef": {"name": "stripe", "key": "key"}}
    }
    env = _env(_deployment(config))
    assert env["PAYMENTS_URL"] == "https://pay"
    assert env["RETRIES"] == "3"
    assert env["STRIPE_KEY"] == {"secretKeyRef": {"name": "stripe", "key": "key"}}


def test_hpa_bounds_targets_and_stabilised_scale_down() -> None:
    config = base_config()
    config["queues"]["billing"]["autoscaling"] = {
        "minReplicas": 3,
        "maxReplicas": 12,
        "memoryUtilization": 75,
        "scaleDownStabilizationSeconds": 600,
    }
    settings = settings_of(config)
    hpa = hpa_object(settings, only_queue(settings), NS)
    validate_object(hpa)
    spec = hpa["spec"]
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "billing-worker",
    }
    assert (spec["minReplicas"], spec["maxReplicas"]) == (3, 12)
    targets = {m["resource"]["name"]: m["resource"]["target"] for m in spec["metrics"]}
    assert targets == {
        "cpu": {"type": "Utilization", "averageUtilization": 70},
        "memory": {"type": "Utilization", "averageUtilization": 75},
    }
    assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 600


def test_keda_replaces_the_hpa_with_a_temporal_backlog_trigger() -> None:
    config = base_config()
    config["temporal"]["apiKeySecretRef"] = {"name": "tc", "key": "api-key"}
    config["versioning"] = {"enabled": True}
    config["queues"]["billing"]["autoscaling"] = {
        "mode": "keda",
        "minReplicas": 2,
        "maxReplicas": 6,
        "keda": {"targetQueueSize": 10, "authenticationRef": "temporal-auth"},
    }
    objects = _objects(config)
    assert _kind(objects, "HorizontalPodAutoscaler") == []
    (scaled,) = _kind(objects, "ScaledObject")
    validate_object(scaled)
    settings = settings_of(config)
    release = Release("b1", "target")
    assert scaled == scaled_object(settings, only_queue(settings), NS, "b1", release)
    assert scaled["metadata"]["name"] == "billing-worker-b1"
    assert scaled["metadata"]["labels"]["temporal.io/build-id"] == "b1"
    assert scaled["spec"]["scaleTargetRef"]["name"] == "billing-worker-b1"
    spec = scaled["spec"]
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (2, 6)
    trigger = spec["triggers"][0]
    assert trigger["type"] == "temporal"
    assert trigger["authenticationRef"] == {"name": "temporal-auth"}
    assert trigger["metadata"] == {
        "endpoint": "temporal-frontend.temporal:7233",
        "namespace": "orders",
        "taskQueue": "billing",
        "queueTypes": "workflow,activity",
        "targetQueueSize": "10",
        "activationTargetQueueSize": "0",
        "workerDeploymentName": "temporal-workers-billing",
        "workerDeploymentBuildId": "b1",
    }


def test_pdb_keeps_a_poller() -> None:
    objects = _objects(base_config())
    (pdb,) = _kind(objects, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert "minAvailable" not in pdb["spec"]
    config = base_config()
    config["queues"]["billing"].update(
        {"autoscaling": {"minReplicas": 4}, "pdb": {"minAvailable": 2}}
    )
    (pdb,) = _kind(_objects(config), "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 2
    assert (
        pdb["spec"]["selector"]["matchLabels"]
        == (_kind(_objects(config), "Deployment")[0]["spec"]["selector"]["matchLabels"])
    )


def test_metrics_service_and_optional_service_monitor() -> None:
    objects = _objects(base_config())
    assert _kind(objects, "ServiceMonitor") == []
    (service,) = _kind(objects, "Service")
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}
    ]
    config = base_config()
    config["queues"]["billing"]["serviceMonitor"] = {
        "enabled": True,
        "interval": "15s",
        "labels": {"release": "prom"},
    }
    (monitor,) = _kind(_objects(config), "ServiceMonitor")
    validate_object(monitor)
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "15s"}
    ]
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )


def test_dashboard_charts_the_guide_metrics() -> None:
    config = base_config()
    config["queues"]["billing"]["dashboard"] = {"enabled": True, "folder": "Temporal"}
    settings = settings_of(config)
    queue = only_queue(settings)
    config_map = dashboard_object(settings, queue, NS)
    validate_object(config_map)
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "Temporal"}
    (body,) = config_map["data"].values()
    dashboard = json.loads(body)
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for metric in (
        "temporal_workflow_task_schedule_to_start_latency",
        "temporal_activity_schedule_to_start_latency",
        "temporal_worker_task_slots_available",
        "temporal_sticky_cache_size",
        "request_failure",
        "temporal_request_latency",
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
    ):
        assert metric in exprs
    assert len(dashboard["panels"]) == len(dashboard_queries(settings, queue))
    assert 'service="billing-worker-metrics"' in exprs


def test_queue_names_are_sanitised_only_where_kubernetes_requires() -> None:
    assert label_value("billing") == "billing"
    assert label_value("Orders.V2_x") == "Orders.V2_x"
    odd = label_value("orders/eu:priority")
    assert odd.startswith("orders-eu-priority-") and len(odd) <= 63
    long = "q" * 100
    assert len(label_value(long)) <= 63 and label_value(long) != label_value(long + "x")
    assert dns_label("billing") == "billing"
    assert dns_label("Orders.V2").startswith("orders-v2-")
    config = base_config()
    config["queues"] = {"orders/eu:priority": {"app": "orders_app.queues:orders"}}
    settings = settings_of(config)
    objects = queue_objects(settings, only_queue(settings), NS, IMAGE, None, {})
    for obj in objects:
        validate_object(obj)
        assert obj["metadata"]["labels"] == queue_labels("dev", "orders/eu:priority")
    env = _env(_kind(objects, "Deployment")[0])
    assert env["TEMPORAL_TASK_QUEUE"] == "orders/eu:priority"


def test_quantities_compare_across_units() -> None:
    assert parse_quantity("512Mi") == 512 * 2**20
    assert parse_quantity("1Gi") > parse_quantity("1000Mi")
    assert parse_quantity("250m") == 0.25
    with pytest.raises(ValueError):
        parse_quantity("lots")


def test_defaults_fill_queues_and_queues_override() -> None:
    config = base_config()
    config["defaults"] = {
        "autoscaling": {"minReplicas": 3, "maxReplicas": 9},
        "gracefulShutdownSeconds": 90,
        "env": {"REGION": "eu", "TIER": "std"},
    }
    config["queues"]["billing"].update(
        {"autoscaling": {"maxReplicas": 20}, "env": {"TIER": "gold"}}
    )
    queue = only_queue(settings_of(config))
    assert (queue.autoscaling.min_replicas, queue.autoscaling.max_replicas) == (3, 20)
    assert queue.graceful_shutdown_seconds == 90
    assert queue.env == {"TIER": "gold", "REGION": "eu"}
