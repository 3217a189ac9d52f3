"""Constants of the worker contract (docs/architecture.md §1-2 and worker_image/README.md).

`infra/` never imports `workerkit`; the values it must agree with live here, in one place.
"""

from __future__ import annotations

PROJECT = "temporal-workers"
"""Pulumi project name; also the config namespace and the `part-of` label value."""

WORKER_CONTAINER = "worker"
HEALTH_PORT = 8080
METRICS_PORT = 9090
METRICS_PATH = "/metrics"
LIVENESS_PATH = "/healthz"
READINESS_PATH = "/readyz"
DRAIN_COMMAND = ("python", "-m", "workerkit", "drain")

CONFIG_DIR = "/etc/workerkit"
CONFIG_FILE_NAME = "worker.json"
TLS_DIR = "/etc/temporal/tls"
TLS_CERT_FILE = "tls.crt"
TLS_KEY_FILE = "tls.key"
TLS_CA_FILE = "ca.crt"
API_KEY_SECRET_KEY = "TEMPORAL_API_KEY"
TMP_DIR = "/tmp"
"""The only writable path of the read-only root filesystem (an emptyDir)."""

TMP_VOLUME = "tmp"
CONFIG_VOLUME = "worker-config"
TLS_VOLUME = "temporal-tls"
"""The pod's own volumes; `queues.<q>.volumes` may not reuse their names or shadow their paths."""

MIN_TERMINATION_BUFFER_SECONDS = 10
"""The policy pack requires terminationGracePeriodSeconds >= graceful shutdown + 10."""

TUNING_ENV: dict[str, str] = {
    "maxConcurrentActivities": "WORKER_MAX_CONCURRENT_ACTIVITIES",
    "maxConcurrentWorkflowTasks": "WORKER_MAX_CONCURRENT_WORKFLOW_TASKS",
    "maxConcurrentLocalActivities": "WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES",
    "maxCachedWorkflows": "WORKER_MAX_CACHED_WORKFLOWS",
    "maxActivitiesPerSecond": "WORKER_MAX_ACTIVITIES_PER_SECOND",
    "maxTaskQueueActivitiesPerSecond": "WORKER_MAX_TASK_QUEUE_ACTIVITIES_PER_SECOND",
    "pollerMode": "WORKER_POLLER_MODE",
    "workflowTaskPollers": "WORKER_WORKFLOW_TASK_POLLERS",
    "activityTaskPollers": "WORKER_ACTIVITY_TASK_POLLERS",
    "logLevel": "WORKER_LOG_LEVEL",
    "connectMaxBackoffSeconds": "WORKER_CONNECT_MAX_BACKOFF_SECONDS",
}
"""Stack config tuning key -> the WORKER_* name written into the mounted config file."""

MANAGED_ENV_PREFIXES = ("TEMPORAL_", "WORKER_")
"""Env names the program owns; `env`/`secretEnv` of a queue may not set them."""
