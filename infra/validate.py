"""Raw stack config -> validated `StackSettings`. Pure: no Pulumi runtime, no resources.

Every error is one line naming the full key and the allowed values (see `infra.errors`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any, Literal, cast

from infra.confignode import DNS_LABEL, DNS_SUBDOMAIN, ConfigNode, join_path
from infra.contract import (
    CONFIG_DIR,
    CONFIG_VOLUME,
    MANAGED_ENV_PREFIXES,
    MIN_TERMINATION_BUFFER_SECONDS,
    TLS_DIR,
    TLS_VOLUME,
    TMP_DIR,
    TMP_VOLUME,
    TUNING_ENV,
)
from infra.errors import ConfigError
from infra.names import dns_label
from infra.quantity import parse_quantity
from infra.settings import (
    AutoscalingSettings,
    DashboardSettings,
    GateSettings,
    ImageBuilder,
    ImageSettings,
    ImageSource,
    KedaSettings,
    KubernetesSettings,
    NamespaceSettings,
    PdbSettings,
    QueueSettings,
    RampStep,
    RegistrySettings,
    ResourceSettings,
    RolloutStrategy,
    ScalingMode,
    SecretSource,
    ServiceMonitorSettings,
    SpreadPolicy,
    StackSettings,
    TemporalSettings,
    TlsSecretRef,
    TlsSettings,
    Toleration,
    TopologySettings,
    VersioningBehavior,
    VersioningSettings,
    VolumeSettings,
)

TOP_LEVEL_KEYS = (
    "namespace",
    "kubernetes",
    "temporal",
    "image",
    "versioning",
    "defaults",
    "queues",
)
QUEUE_KEYS = (
    "app",
    "replicas",
    "autoscaling",
    "resources",
    "tuning",
    "gracefulShutdownSeconds",
    "terminationBufferSeconds",
    "env",
    "secretEnv",
    "pdb",
    "serviceMonitor",
    "dashboard",
    "topologySpread",
    "nodeSelector",
    "tolerations",
    "volumes",
    "deploymentName",
)
DEFAULTS_KEYS = tuple(k for k in QUEUE_KEYS if k not in ("app", "deploymentName"))

ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
LABEL_KEY = r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?"
ADDRESS = r"(\[[0-9A-Fa-f:]+\]|[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?):[0-9]{1,5}"
APP = r"[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_.]*"
REPOSITORY = r"[a-z0-9]([a-z0-9._-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*"
DIGEST_REF = REPOSITORY + r"@sha256:[0-9a-f]{64}"
BUILD_ID = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
CPU = r"[0-9]+(\.[0-9]+)?m?"
MEMORY = r"[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?"
DURATION = r"[0-9]+(ms|s|m|h)"
TASK_QUEUE = r"[^\s]{1,200}"


def parse_stack_settings(
    project: str, stack: str, values: Mapping[str, Any], secret_keys: AbstractSet[str]
) -> StackSettings:
    """Validate raw config (`values` by top-level key, decoded; `secret_keys` likewise)."""
    for key in values:
        if key not in TOP_LEVEL_KEYS:
            raise ConfigError(key, f"is not a known key (allowed: {', '.join(TOP_LEVEL_KEYS)})")

    def node(key: str) -> ConfigNode:
        return ConfigNode(key, values.get(key), key in secret_keys)

    image = _image(node("image"))
    temporal = _temporal(node("temporal"))
    versioning = _versioning(node("versioning"), project, stack)
    defaults = node("defaults").obj(DEFAULTS_KEYS)
    return StackSettings(
        project=project,
        stack=stack,
        namespace=_namespace(node("namespace"), project, stack),
        kubernetes=_kubernetes(node("kubernetes")),
        temporal=temporal,
        image=image,
        versioning=versioning,
        queues=_queues(node("queues"), defaults, project, temporal),
    )


# -- stack-wide sections -------------------------------------------------------------------------
def _namespace(node: ConfigNode, project: str, stack: str) -> NamespaceSettings:
    node = node.obj(["name", "create", "labels"])
    name = node.get("name").string(
        dns_label(f"{project}-{stack}", 63),
        pattern=DNS_LABEL,
        expected="a Kubernetes namespace name (lowercase RFC 1123 label, at most 63 characters)",
    )
    assert name is not None
    labels_node = node.get("labels")
    labels = labels_node.string_map(LABEL_KEY, "a Kubernetes label key")
    for key, value in labels.items():
        if not re.fullmatch(LABEL_VALUE, value):
            raise labels_node.get(key).fail(
                f"must be a Kubernetes label value (at most 63 of [-A-Za-z0-9_.]) (got {value!r})"
            )
    return NamespaceSettings(name=name, create=node.get("create").boolean(True), labels=labels)


def _kubernetes(node: ConfigNode) -> KubernetesSettings:
    node = node.obj(["kubeconfig", "context"])
    return KubernetesSettings(
        kubeconfig=node.get("kubeconfig").string(expected="a kubeconfig path or its contents")
        or None,
        context=node.get("context").string(expected="a kubeconfig context name") or None,
    )


def _temporal(node: ConfigNode) -> TemporalSettings:
    node = node.obj(["address", "namespace", "apiKey", "apiKeySecretRef", "tls"])
    address = node.get("address").required_string(
        pattern=ADDRESS, expected="host:port of the Temporal frontend, e.g. temporal-frontend:7233"
    )
    namespace = node.get("namespace").string("default", pattern=r"\S{1,255}", expected="a name")
    assert namespace is not None
    api_key_node = node.get("apiKey")
    api_key_ref = node.get("apiKeySecretRef").secret_key_ref()
    api_key: SecretSource | None = api_key_node.secret_string("temporal.apiKey <key>")
    if api_key is not None and api_key_ref is not None:
        raise api_key_node.fail("cannot be combined with temporal.apiKeySecretRef (choose one)")
    api_key = api_key or api_key_ref
    return TemporalSettings(
        address=address, namespace=namespace, api_key=api_key, tls=_tls(node.get("tls"), api_key)
    )


def _tls(node: ConfigNode, api_key: SecretSource | None) -> TlsSettings:
    node = node.obj(
        ["enabled", "serverName", "clientCert", "clientKey", "serverCaCert", "existingSecret"]
    )
    cert = node.get("clientCert").secret_string('temporal.tls.clientCert -- "$(cat client.pem)"')
    key = node.get("clientKey").secret_string('temporal.tls.clientKey -- "$(cat client.key)"')
    ca = node.get("serverCaCert").secret_string('temporal.tls.serverCaCert -- "$(cat ca.pem)"')
    if (cert is None) != (key is None):
        missing = "clientKey" if key is None else "clientCert"
        present = "clientCert" if key is None else "clientKey"
        raise node.get(missing).fail(f"is required when temporal.tls.{present} is set")
    existing = _tls_secret(node.get("existingSecret"))
    if existing is not None and (cert is not None or ca is not None):
        raise node.get("existingSecret").fail(
            "cannot be combined with temporal.tls.clientCert/clientKey/serverCaCert "
            "(choose one source)"
        )
    uses_tls_files = cert is not None or ca is not None or existing is not None
    enabled = node.get("enabled").boolean(uses_tls_files or api_key is not None)
    if uses_tls_files and not enabled:
        raise node.get("enabled").fail("must be true when TLS files are configured (got false)")
    server_name = node.get("serverName").string(
        pattern=r"[A-Za-z0-9.-]{1,253}", expected="a DNS name"
    )
    return TlsSettings(
        enabled=enabled,
        server_name=server_name,
        client_cert=cert,
        client_key=key,
        server_ca_cert=ca,
        existing_secret=existing,
    )


def _tls_secret(node: ConfigNode) -> TlsSecretRef | None:
    if not node.present:
        return None
    node = node.obj(["name", "certKey", "keyKey", "caKey"])
    key_pattern = r"[-._a-zA-Z0-9]{1,253}"
    expected = "a key of the Secret ([-._a-zA-Z0-9]+)"
    cert_key = node.get("certKey").string("tls.crt", pattern=key_pattern, expected=expected)
    key_key = node.get("keyKey").string("tls.key", pattern=key_pattern, expected=expected)
    ca_key = node.get("caKey").string("ca.crt", pattern=f"({key_pattern})?", expected=expected)
    assert cert_key is not None and key_key is not None
    return TlsSecretRef(
        name=node.get("name").required_string(
            pattern=DNS_SUBDOMAIN, expected="the name of an existing kubernetes.io/tls Secret"
        ),
        cert_key=cert_key,
        key_key=key_key,
        ca_key=ca_key or None,
    )


def _image(node: ConfigNode) -> ImageSettings:
    node = node.obj(
        [
            "source",
            "builder",
            "repository",
            "buildId",
            "version",
            "revision",
            "sourceUrl",
            "baseImage",
            "wheelhouse",
            "push",
            "registry",
            "ref",
            "context",
            "dockerfile",
            "network",
            "platform",
        ]
    )
    source = cast(ImageSource, node.get("source").choice("build", ["build", "prebuilt"]))
    builder = cast(
        ImageBuilder, node.get("builder").choice("docker-build", ["docker-build", "docker"])
    )
    build_id = node.get("buildId").string(
        pattern=BUILD_ID, expected="an image tag: [A-Za-z0-9_.-], at most 128 characters"
    )
    repository = node.get("repository").string(
        "temporal-workers/worker",
        pattern=REPOSITORY,
        expected="an image repository without tag or digest, e.g. ghcr.io/acme/worker",
    )
    assert repository is not None
    ref_node = node.get("ref")
    ref = ref_node.string(
        pattern=DIGEST_REF, expected="an image reference by digest: <repository>@sha256:<64 hex>"
    )
    push = node.get("push").boolean(source == "build")
    registry = _registry(node.get("registry"))
    if source == "prebuilt":
        if ref is None:
            raise ref_node.fail(
                "is required when image.source is prebuilt "
                "(an image reference by digest: <repository>@sha256:<64 hex>)"
            )
    else:
        if ref is not None:
            raise ref_node.fail("is only used when image.source is prebuilt (got a value)")
        if push and registry is None:
            raise node.get("registry").fail(
                "is required when image.push is true ({address, username, password})"
            )
        if registry is not None and push and not repository.startswith(registry.address + "/"):
            raise node.get("repository").fail(
                f"must start with image.registry.address + '/' ({registry.address}/...) "
                f"(got {repository!r})"
            )
    return ImageSettings(
        source=source,
        builder=builder,
        repository=repository,
        build_id=build_id,
        version=_str(node.get("version"), "0.1.0"),
        revision=_str(node.get("revision"), ""),
        source_url=_str(node.get("sourceUrl"), ""),
        base_image=_str(node.get("baseImage"), ""),
        wheelhouse=_str(
            node.get("wheelhouse"),
            "",
            pattern=r"([A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*)?",
            expected="a relative directory inside the build context (or empty)",
        ),
        push=push,
        registry=registry,
        ref=ref,
        context=_str(node.get("context"), "worker_image"),
        dockerfile=_str(node.get("dockerfile"), "worker_image/Dockerfile"),
        network=node.get("network").choice("host", ["host", "default", "none"]),
        platform=node.get("platform").string(
            pattern=r"[a-z0-9]+/[a-z0-9]+(/[a-z0-9]+)?", expected="a platform such as linux/amd64"
        ),
    )


def _registry(node: ConfigNode) -> RegistrySettings | None:
    if not node.present:
        return None
    node = node.obj(["address", "username", "password"])
    return RegistrySettings(
        address=node.get("address").required_string(
            pattern=r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?", expected="a registry host[:port]"
        ),
        username=node.get("username").string() or None,
        password=node.get("password").secret_string("image.registry.password <password>"),
    )


VERSIONING_KEYS = (
    "enabled",
    "defaultBehavior",
    "strategy",
    "rampSteps",
    "timeouts",
    "sunset",
    "gate",
    "identity",
    "controlAddress",
    "controlTls",
)
MAX_RAMP_STEPS = 20
MIN_RAMP_PAUSE_SECONDS = 30


def _versioning(node: ConfigNode, project: str, stack: str) -> VersioningSettings:
    node = node.obj(VERSIONING_KEYS)
    enabled = node.get("enabled").boolean(False)
    behavior = node.get("defaultBehavior").choice("pinned", ["pinned", "auto-upgrade"])
    strategy = node.get("strategy").choice("allAtOnce", ["allAtOnce", "progressive", "manual"])
    steps = _ramp_steps(node.get("rampSteps"))
    if strategy == "progressive" and not steps:
        raise node.get("rampSteps").fail(
            "is required when versioning.strategy is progressive "
            "(e.g. [{percent: 10, pauseSeconds: 300}, {percent: 50, pauseSeconds: 300}])"
        )
    timeouts = node.get("timeouts").obj(["pollersSeconds", "routingSeconds"])
    sunset = node.get("sunset").obj(["scaledownDelaySeconds", "deleteDelaySeconds"])
    gate_node = node.get("gate")
    gate = None
    if gate_node.present:
        gate_node = gate_node.obj(["workflowType", "timeoutSeconds"])
        gate = GateSettings(
            workflow_type=gate_node.get("workflowType").required_string(
                pattern=r"[^\s]{1,200}", expected="a workflow type name"
            ),
            timeout_seconds=gate_node.get("timeoutSeconds").integer(600, 10, 86400),
        )
    identity = node.get("identity").string(
        f"pulumi/{project}/{stack}",
        pattern=r"[^\s]{1,200}",
        expected="an identity without whitespace (at most 200 characters)",
    )
    assert identity is not None
    return VersioningSettings(
        enabled=enabled,
        default_behavior=cast(VersioningBehavior, behavior),
        strategy=cast(RolloutStrategy, strategy),
        ramp_steps=steps,
        pollers_timeout_seconds=timeouts.get("pollersSeconds").integer(600, 10, 86400),
        routing_timeout_seconds=timeouts.get("routingSeconds").integer(120, 5, 3600),
        # Deletion is refused for 5 minutes after a version's last poll (PollerHistoryTTL), so a
        # shorter delete delay would only turn into failed deletes.
        scaledown_delay_seconds=sunset.get("scaledownDelaySeconds").integer(3600, 0, 30 * 86400),
        delete_delay_seconds=sunset.get("deleteDelaySeconds").integer(86400, 310, 90 * 86400),
        gate=gate,
        identity=identity,
        control_address=node.get("controlAddress").string(
            pattern=ADDRESS, expected="host:port of the Temporal frontend as seen by pulumi"
        ),
        control_tls=node.get("controlTls").boolean(False)
        if node.get("controlTls").present
        else None,
    )


def _ramp_steps(node: ConfigNode) -> tuple[RampStep, ...]:
    if node.value is None:
        return ()
    if not isinstance(node.value, list):
        raise node.fail("must be a list of {percent, pauseSeconds}")
    if len(node.value) > MAX_RAMP_STEPS:
        raise node.fail(f"must have at most {MAX_RAMP_STEPS} steps (got {len(node.value)})")
    steps: list[RampStep] = []
    for index, item in enumerate(node.value):
        step = ConfigNode(f"{node.path}[{index}]", item, node.secret).obj(
            ["percent", "pauseSeconds"]
        )
        percent_node = step.get("percent")
        percent = percent_node.optional_integer(1, 99)
        if percent is None:
            raise percent_node.fail("is required (1-99)")
        if steps and percent <= steps[-1].percent:
            raise percent_node.fail(
                f"must be greater than the previous step's {steps[-1].percent} (got {percent})"
            )
        pause = step.get("pauseSeconds").integer(300, MIN_RAMP_PAUSE_SECONDS, 86400)
        steps.append(RampStep(percent=percent, pause_seconds=pause))
    return tuple(steps)


def _str(node: ConfigNode, default: str, **kwargs: Any) -> str:
    value = node.string(default, **kwargs)
    assert value is not None
    return value


# -- queues --------------------------------------------------------------------------------------
def _queues(
    node: ConfigNode, defaults: ConfigNode, project: str, temporal: TemporalSettings
) -> tuple[QueueSettings, ...]:
    names = node.child_keys()
    if not names:
        raise node.fail(
            "must name at least one task queue "
            "(e.g. queues: {orders: {app: orders_app.queues:orders}})"
        )
    queues: list[QueueSettings] = []
    used: dict[str, str] = {}
    for name in names:
        child = node.get(name)
        if not re.fullmatch(TASK_QUEUE, name):
            raise child.fail("is not a valid task queue name (1-200 characters, no whitespace)")
        queue_node = ConfigNode(child.path, child.value, child.secret, defaults)
        queue = _queue(queue_node, name, project, temporal)
        if queue.k8s_name in used:
            raise child.fail(
                f"maps to the Kubernetes name {queue.k8s_name!r}, already used by "
                f"{join_path('queues', used[queue.k8s_name])} (rename one of the queues)"
            )
        used[queue.k8s_name] = name
        queues.append(queue)
    return tuple(queues)


def _queue(node: ConfigNode, name: str, project: str, temporal: TemporalSettings) -> QueueSettings:
    if node.value is not None and not isinstance(node.value, dict):
        raise node.fail(f"must be an object with at least app (got {node.value!r})")
    node = node.obj(QUEUE_KEYS)
    app = node.get("app").required_string(
        pattern=APP, expected="module:attribute, e.g. orders_app.queues:billing"
    )
    autoscaling = _autoscaling(node.get("autoscaling"), temporal)
    replicas_node = node.get("replicas")
    if replicas_node.present and autoscaling.mode != "fixed":
        raise replicas_node.fail(
            f"is only used when autoscaling.mode is fixed (mode is {autoscaling.mode}); "
            "set autoscaling.minReplicas/maxReplicas instead"
        )
    replicas = replicas_node.integer(2, 2, 1000)
    guaranteed = replicas if autoscaling.mode == "fixed" else autoscaling.min_replicas
    graceful = node.get("gracefulShutdownSeconds").integer(30, 1, 3600)
    buffer = node.get("terminationBufferSeconds").integer(15, MIN_TERMINATION_BUFFER_SECONDS, 600)
    deployment_name = node.get("deploymentName").string(
        f"{project}-{name}".replace(".", "-"),
        pattern=r"[^.\s]{1,200}",
        expected="a Worker Deployment name (no '.', no whitespace, at most 200 characters)",
    )
    assert deployment_name is not None
    return QueueSettings(
        task_queue=name,
        k8s_name=dns_label(name),
        app=app,
        replicas=replicas,
        autoscaling=autoscaling,
        resources=_resources(node.get("resources")),
        tuning=_tuning(node.get("tuning")),
        graceful_shutdown_seconds=graceful,
        termination_buffer_seconds=buffer,
        env=_env(node.get("env")),
        secret_env=_secret_env(node.get("secretEnv")),
        pdb=_pdb(node.get("pdb"), guaranteed),
        service_monitor=_service_monitor(node.get("serviceMonitor")),
        dashboard=_dashboard(node.get("dashboard")),
        topology=_topology(node.get("topologySpread")),
        node_selector=_labels(node.get("nodeSelector")),
        tolerations=_tolerations(node.get("tolerations")),
        volumes=_volumes(node.get("volumes")),
        deployment_name=deployment_name,
    )


def _autoscaling(node: ConfigNode, temporal: TemporalSettings) -> AutoscalingSettings:
    node = node.obj(
        [
            "mode",
            "minReplicas",
            "maxReplicas",
            "cpuUtilization",
            "memoryUtilization",
            "scaleDownStabilizationSeconds",
            "keda",
        ]
    )
    mode = cast(ScalingMode, node.get("mode").choice("hpa", ["hpa", "keda", "fixed"]))
    min_replicas = node.get("minReplicas").integer(2, 2, 1000)
    max_node = node.get("maxReplicas")
    max_replicas = max_node.integer(max(10, min_replicas), 1, 1000)
    if max_replicas < min_replicas:
        raise max_node.fail(f"must be >= minReplicas ({min_replicas}) (got {max_replicas})")
    keda = _keda(node.get("keda"))
    if (
        mode == "keda"
        and keda.authentication_ref is None
        and (temporal.api_key is not None or temporal.tls.has_client_cert)
    ):
        raise (
            node.get("keda")
            .get("authenticationRef")
            .fail(
                "is required when autoscaling.mode is keda and Temporal uses an API key or mTLS "
                "(the name of a KEDA TriggerAuthentication)"
            )
        )
    return AutoscalingSettings(
        mode=mode,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        cpu_utilization=node.get("cpuUtilization").integer(70, 1, 100),
        memory_utilization=node.get("memoryUtilization").optional_integer(1, 100),
        scale_down_stabilization_seconds=node.get("scaleDownStabilizationSeconds").integer(
            300, 0, 3600
        ),
        keda=keda,
    )


def _keda(node: ConfigNode) -> KedaSettings:
    node = node.obj(
        [
            "targetQueueSize",
            "activationTargetQueueSize",
            "queueTypes",
            "pollingInterval",
            "cooldownPeriod",
            "authenticationRef",
        ]
    )
    return KedaSettings(
        target_queue_size=node.get("targetQueueSize").integer(5, 1, 100000),
        activation_target_queue_size=node.get("activationTargetQueueSize").integer(0, 0, 100000),
        queue_types=node.get("queueTypes").choice(
            "workflow,activity", ["workflow", "activity", "workflow,activity"]
        ),
        polling_interval=node.get("pollingInterval").integer(15, 1, 3600),
        cooldown_period=node.get("cooldownPeriod").integer(300, 0, 3600),
        authentication_ref=node.get("authenticationRef").string(
            pattern=DNS_SUBDOMAIN, expected="the name of a KEDA TriggerAuthentication"
        ),
    )


def _resources(node: ConfigNode) -> ResourceSettings:
    node = node.obj(["requests", "limits"])
    requests = node.get("requests").obj(["cpu", "memory"])
    limits = node.get("limits").obj(["cpu", "memory"])
    cpu_expected = "a CPU quantity such as 250m or 1"
    mem_expected = "a memory quantity such as 256Mi or 1Gi"
    req_cpu = _str(requests.get("cpu"), "250m", pattern=CPU, expected=cpu_expected)
    req_mem = _str(requests.get("memory"), "256Mi", pattern=MEMORY, expected=mem_expected)
    lim_cpu = limits.get("cpu").string(pattern=CPU, expected=cpu_expected)
    lim_mem_node = limits.get("memory")
    lim_mem = _str(lim_mem_node, "512Mi", pattern=MEMORY, expected=mem_expected)
    if parse_quantity(lim_mem) < parse_quantity(req_mem):
        raise lim_mem_node.fail(f"must be >= resources.requests.memory ({req_mem}) (got {lim_mem})")
    if lim_cpu is not None and parse_quantity(lim_cpu) < parse_quantity(req_cpu):
        raise limits.get("cpu").fail(
            f"must be >= resources.requests.cpu ({req_cpu}) (got {lim_cpu})"
        )
    return ResourceSettings(
        requests_cpu=req_cpu, requests_memory=req_mem, limits_cpu=lim_cpu, limits_memory=lim_mem
    )


def _tuning(node: ConfigNode) -> dict[str, str | int | float]:
    node = node.obj(list(TUNING_ENV))
    result: dict[str, str | int | float] = {}
    for key in node.child_keys():
        child = node.get(key)
        value: str | int | float | None
        if key == "pollerMode":
            value = child.choice("autoscaling", ["autoscaling", "fixed"])
        elif key == "logLevel":
            value = child.choice("INFO", ["DEBUG", "INFO", "WARNING", "ERROR"])
        elif key.endswith("PerSecond"):
            value = child.number(0)
        else:
            value = child.optional_integer(1, 100000)
        if value is not None:
            result[TUNING_ENV[key]] = value
    return result


def _env(node: ConfigNode) -> dict[str, str]:
    env = node.string_map(ENV_NAME, "an environment variable name")
    for key in env:
        _check_unmanaged(node.get(key), key)
    return env


def _secret_env(node: ConfigNode) -> dict[str, SecretSource]:
    result: dict[str, SecretSource] = {}
    for key in node.child_keys():
        child = node.get(key)
        if not re.fullmatch(ENV_NAME, key):
            raise child.fail("is not a valid name (an environment variable name)")
        _check_unmanaged(child, key)
        result[key] = child.secret_source(f"{child.path} <value>")
    return result


def _check_unmanaged(node: ConfigNode, name: str) -> None:
    if name.startswith(MANAGED_ENV_PREFIXES):
        raise node.fail(
            "is set by the program; TEMPORAL_* and WORKER_* come from temporal.*, tuning and "
            "the queue settings (use another name)"
        )


def _pdb(node: ConfigNode, guaranteed: int) -> PdbSettings:
    node = node.obj(["maxUnavailable", "minAvailable"])
    max_node, min_node = node.get("maxUnavailable"), node.get("minAvailable")
    if max_node.present and min_node.present:
        raise min_node.fail("cannot be combined with pdb.maxUnavailable (choose one)")
    limit = guaranteed - 1
    reason = f"so the queue keeps a poller during disruptions (guaranteed replicas {guaranteed})"
    chosen = min_node if min_node.present else max_node
    value = chosen.integer(1, 1)
    if value > limit:
        raise chosen.fail(f"must be <= {limit} {reason} (got {value})")
    if min_node.present:
        return PdbSettings(max_unavailable=None, min_available=value)
    return PdbSettings(max_unavailable=value, min_available=None)


def _labels(node: ConfigNode) -> dict[str, str]:
    """A map of Kubernetes label keys to label values."""
    labels = node.string_map(LABEL_KEY, "a Kubernetes label key")
    for key, value in labels.items():
        if not re.fullmatch(LABEL_VALUE, value):
            raise node.get(key).fail(f"must be a Kubernetes label value (got {value!r})")
    return labels


TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _tolerations(node: ConfigNode) -> tuple[Toleration, ...]:
    if node.value is None:
        return ()
    if not isinstance(node.value, list):
        raise node.fail("must be a list of {key, operator, value, effect}")
    result = []
    for index, item in enumerate(node.value):
        entry = ConfigNode(f"{node.path}[{index}]", item, node.secret).obj(
            ["key", "operator", "value", "effect"]
        )
        key = entry.get("key").required_string(pattern=LABEL_KEY, expected="a taint key")
        operator = entry.get("operator").choice("Equal", ["Equal", "Exists"])
        value_node = entry.get("value")
        value = value_node.string(pattern=LABEL_VALUE, expected="a taint value")
        if operator == "Exists" and value is not None:
            raise value_node.fail("must be unset with operator Exists")
        effect_node = entry.get("effect")
        effect = effect_node.string(choices=TAINT_EFFECTS) if effect_node.present else None
        result.append(
            Toleration(
                key=key,
                operator=cast(Literal["Equal", "Exists"], operator),
                value=value,
                effect=cast(Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None, effect),
            )
        )
    return tuple(result)


RESERVED_VOLUMES = (TMP_VOLUME, CONFIG_VOLUME, TLS_VOLUME)
RESERVED_MOUNTS = (TMP_DIR, CONFIG_DIR, TLS_DIR)


def _volumes(node: ConfigNode) -> tuple[VolumeSettings, ...]:
    volumes: list[VolumeSettings] = []
    for name in node.child_keys():
        child = node.get(name)
        if not re.fullmatch(DNS_LABEL, name) or name in RESERVED_VOLUMES:
            raise child.fail(
                "is not a valid volume name (a DNS label, not one of "
                f"{', '.join(RESERVED_VOLUMES)})"
            )
        child = child.obj(["claimName", "mountPath", "readOnly"])
        mount_node = child.get("mountPath")
        mount = mount_node.required_string(
            pattern=r"/[^\s:]*", expected="an absolute path, e.g. /var/lib/blobs"
        )
        clash = [m for m in RESERVED_MOUNTS if _overlaps(mount, m)]
        clash += [v.mount_path for v in volumes if _overlaps(mount, v.mount_path)]
        if clash:
            raise mount_node.fail(f"overlaps the mount {clash[0]} (choose another path)")
        volumes.append(
            VolumeSettings(
                name=name,
                claim_name=child.get("claimName").required_string(
                    pattern=DNS_SUBDOMAIN,
                    expected="the name of an existing PersistentVolumeClaim of the namespace",
                ),
                mount_path=mount,
                read_only=child.get("readOnly").boolean(False),
            )
        )
    return tuple(volumes)


def _overlaps(a: str, b: str) -> bool:
    a, b = a.rstrip("/") + "/", b.rstrip("/") + "/"
    return a.startswith(b) or b.startswith(a)


def _service_monitor(node: ConfigNode) -> ServiceMonitorSettings:
    node = node.obj(["enabled", "interval", "labels"])
    return ServiceMonitorSettings(
        enabled=node.get("enabled").boolean(False),
        interval=_str(
            node.get("interval"), "30s", pattern=DURATION, expected="a duration like 30s"
        ),
        labels=_labels(node.get("labels")),
    )


def _dashboard(node: ConfigNode) -> DashboardSettings:
    node = node.obj(["enabled", "label", "folder"])
    return DashboardSettings(
        enabled=node.get("enabled").boolean(False),
        label=_str(
            node.get("label"), "grafana_dashboard", pattern=LABEL_KEY, expected="a label key"
        ),
        folder=node.get("folder").string() or None,
    )


def _topology(node: ConfigNode) -> TopologySettings:
    node = node.obj(["nodes", "zones"])
    choices = ["ScheduleAnyway", "DoNotSchedule"]
    return TopologySettings(
        nodes=cast(SpreadPolicy, node.get("nodes").choice("ScheduleAnyway", choices)),
        zones=cast(SpreadPolicy, node.get("zones").choice("ScheduleAnyway", choices)),
    )
