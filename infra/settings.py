"""Typed, validated stack settings: what `infra.validate` produces from raw stack config."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ImageSource = Literal["build", "prebuilt"]
ImageBuilder = Literal["docker-build", "docker"]
ScalingMode = Literal["hpa", "keda", "fixed"]
SpreadPolicy = Literal["ScheduleAnyway", "DoNotSchedule"]
VersioningBehavior = Literal["pinned", "auto-upgrade"]
RolloutStrategy = Literal["allAtOnce", "progressive", "manual"]


@dataclass(frozen=True)
class SecretValue:
    """A value that came from a secret stack config key; its repr never shows it."""

    value: str = field(repr=False)


@dataclass(frozen=True)
class SecretKeyRef:
    """A key of an existing Kubernetes Secret in the stack's namespace."""

    name: str
    key: str


SecretSource = SecretValue | SecretKeyRef


@dataclass(frozen=True)
class NamespaceSettings:
    """The stack's Kubernetes namespace, created by the program or existing."""

    name: str
    create: bool
    labels: dict[str, str]


@dataclass(frozen=True)
class KubernetesSettings:
    """Cluster selection; an explicit provider is used only when one of these is set."""

    kubeconfig: str | None
    context: str | None

    @property
    def explicit(self) -> bool:
        """True when the program needs its own `kubernetes.Provider`."""
        return self.kubeconfig is not None or self.context is not None


@dataclass(frozen=True)
class TlsSecretRef:
    """mTLS files from an existing Kubernetes Secret: which keys hold which file."""

    name: str
    cert_key: str
    key_key: str
    ca_key: str | None


@dataclass(frozen=True)
class TlsSettings:
    """TLS to the Temporal frontend; client files inline (secret config) or from a Secret."""

    enabled: bool
    server_name: str | None
    client_cert: SecretValue | None
    client_key: SecretValue | None
    server_ca_cert: SecretValue | None
    existing_secret: TlsSecretRef | None

    @property
    def has_client_cert(self) -> bool:
        """True when mTLS client files are mounted."""
        return self.client_cert is not None or self.existing_secret is not None

    @property
    def has_ca(self) -> bool:
        """True when a server CA file is mounted."""
        if self.existing_secret is not None:
            return self.existing_secret.ca_key is not None
        return self.server_ca_cert is not None


@dataclass(frozen=True)
class TemporalSettings:
    """How workers reach Temporal (envconfig names in the pods)."""

    address: str
    namespace: str
    api_key: SecretSource | None
    tls: TlsSettings


@dataclass(frozen=True)
class RegistrySettings:
    """Registry to push to, with optional credentials (password only from secret config)."""

    address: str
    username: str | None
    password: SecretValue | None


@dataclass(frozen=True)
class ImageSettings:
    """Where the worker image comes from: a build of `worker_image/`, or a prebuilt digest."""

    source: ImageSource
    builder: ImageBuilder
    repository: str
    build_id: str | None
    version: str
    revision: str
    source_url: str
    base_image: str
    wheelhouse: str
    push: bool
    registry: RegistrySettings | None
    ref: str | None
    context: str
    dockerfile: str
    network: str
    platform: str | None


@dataclass(frozen=True)
class RampStep:
    """One step of a progressive rollout: route `percent` of new work, then wait `pause_seconds`."""

    percent: int
    pause_seconds: int


@dataclass(frozen=True)
class GateSettings:
    """A workflow type run pinned to the new version that must complete before it is promoted."""

    workflow_type: str
    timeout_seconds: int


@dataclass(frozen=True)
class VersioningSettings:
    """Temporal Worker Versioning: one Deployment per (queue, build), promoted by `pulumi up`.

    `control_address` is where `pulumi up` reaches Temporal to read and change routing (default:
    the workers' `temporal.address`); credentials for it come from the stack's own secret config or
    from the environment of `pulumi` (TEMPORAL_API_KEY, TEMPORAL_TLS_CLIENT_CERT_PATH, ...).
    """

    enabled: bool
    default_behavior: VersioningBehavior
    strategy: RolloutStrategy = "allAtOnce"
    ramp_steps: tuple[RampStep, ...] = ()
    pollers_timeout_seconds: int = 600
    routing_timeout_seconds: int = 120
    min_pollers: int = 2
    scaledown_delay_seconds: int = 3600
    delete_delay_seconds: int = 86400
    gate: GateSettings | None = None
    identity: str = ""
    control_address: str | None = None
    control_tls: bool | None = None  # None: as the workers (temporal.tls.enabled)


@dataclass(frozen=True)
class KedaSettings:
    """KEDA temporal trigger settings (used when autoscaling.mode is keda)."""

    target_queue_size: int
    activation_target_queue_size: int
    queue_types: str
    polling_interval: int
    cooldown_period: int
    authentication_ref: str | None


@dataclass(frozen=True)
class AutoscalingSettings:
    """Replica bounds: an HPA (default), a KEDA ScaledObject, or a fixed count."""

    mode: ScalingMode
    min_replicas: int
    max_replicas: int
    cpu_utilization: int
    memory_utilization: int | None
    scale_down_stabilization_seconds: int
    keda: KedaSettings


@dataclass(frozen=True)
class ResourceSettings:
    """Container requests and limits (Kubernetes quantities)."""

    requests_cpu: str
    requests_memory: str
    limits_cpu: str | None
    limits_memory: str


@dataclass(frozen=True)
class PdbSettings:
    """PodDisruptionBudget: exactly one of max_unavailable / min_available is set."""

    max_unavailable: int | None
    min_available: int | None


@dataclass(frozen=True)
class ServiceMonitorSettings:
    """Optional Prometheus Operator ServiceMonitor."""

    enabled: bool
    interval: str
    labels: dict[str, str]


@dataclass(frozen=True)
class DashboardSettings:
    """Optional Grafana dashboard ConfigMap (sidecar discovery convention)."""

    enabled: bool
    label: str
    folder: str | None


@dataclass(frozen=True)
class TopologySettings:
    """Topology spread of a queue's pods across nodes and zones."""

    nodes: SpreadPolicy
    zones: SpreadPolicy


@dataclass(frozen=True)
class Toleration:
    """A taint the queue's pods tolerate (a dedicated node pool, the local real node)."""

    key: str
    operator: Literal["Equal", "Exists"]
    value: str | None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None


@dataclass(frozen=True)
class VolumeSettings:
    """An existing PersistentVolumeClaim of the stack's namespace, mounted into the workers."""

    name: str
    claim_name: str
    mount_path: str
    read_only: bool


@dataclass(frozen=True)
class QueueSettings:
    """Everything one task queue's workload needs."""

    task_queue: str
    k8s_name: str
    app: str
    replicas: int
    autoscaling: AutoscalingSettings
    resources: ResourceSettings
    tuning: dict[str, str | int | float]
    graceful_shutdown_seconds: int
    termination_buffer_seconds: int
    env: dict[str, str]
    secret_env: dict[str, SecretSource]
    pdb: PdbSettings
    service_monitor: ServiceMonitorSettings
    dashboard: DashboardSettings
    topology: TopologySettings
    node_selector: dict[str, str]
    tolerations: tuple[Toleration, ...]
    volumes: tuple[VolumeSettings, ...]
    deployment_name: str

    @property
    def workload_name(self) -> str:
        """metadata.name of the Deployment (and HPA, PDB, ServiceAccount)."""
        return f"{self.k8s_name}-worker"

    @property
    def guaranteed_replicas(self) -> int:
        """The replica floor: HPA/KEDA minimum, or the fixed count."""
        return self.replicas if self.autoscaling.mode == "fixed" else self.autoscaling.min_replicas


@dataclass(frozen=True)
class StackSettings:
    """The whole validated stack config."""

    project: str
    stack: str
    namespace: NamespaceSettings
    kubernetes: KubernetesSettings
    temporal: TemporalSettings
    image: ImageSettings
    versioning: VersioningSettings
    queues: tuple[QueueSettings, ...]
