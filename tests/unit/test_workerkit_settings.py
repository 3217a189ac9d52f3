"""Pure parts of workerkit: settings, worker kwargs, health routes, JSON logs."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from temporalio.common import VersioningBehavior
from temporalio.worker import PollerBehaviorAutoscaling, PollerBehaviorSimpleMaximum

from workerkit.app import WorkerApp
from workerkit.health import HealthServer
from workerkit.lifecycle import Lifecycle
from workerkit.logs import JsonFormatter
from workerkit.runner import worker_kwargs
from workerkit.settings import (
    DEFAULT_GRACEFUL_SHUTDOWN_SECONDS,
    drain_budget,
    load_settings,
    unknown_worker_variables,
)

pytestmark = pytest.mark.unit

BASE = {"TEMPORAL_TASK_QUEUE": "billing", "WORKER_APP": "orders_app.queues:billing"}


def test_defaults_are_safe() -> None:
    settings = load_settings(BASE)
    assert settings.graceful_shutdown_seconds == DEFAULT_GRACEFUL_SHUTDOWN_SECONDS > 0
    assert (settings.health_port, settings.metrics_port) == (8080, 9090)
    assert settings.versioning is None
    assert settings.tuning.poller_mode == "autoscaling"


def test_file_values_apply_and_env_wins(tmp_path: Path) -> None:
    path = tmp_path / "worker.json"
    path.write_text(
        json.dumps({"WORKER_MAX_CONCURRENT_ACTIVITIES": 7, "WORKER_POLLER_MODE": "fixed"})
    )
    env = {**BASE, "WORKER_CONFIG_FILE": str(path), "WORKER_MAX_CONCURRENT_ACTIVITIES": "9"}
    settings = load_settings(env)
    assert settings.tuning.max_concurrent_activities == 9
    assert settings.tuning.poller_mode == "fixed"


def test_worker_kwargs_map_every_knob() -> None:
    env = {
        **BASE,
        "WORKER_MAX_CONCURRENT_ACTIVITIES": "11",
        "WORKER_MAX_CONCURRENT_WORKFLOW_TASKS": "12",
        "WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES": "13",
        "WORKER_MAX_CACHED_WORKFLOWS": "14",
        "WORKER_MAX_ACTIVITIES_PER_SECOND": "2.5",
        "WORKER_MAX_TASK_QUEUE_ACTIVITIES_PER_SECOND": "50",
        "WORKER_POLLER_MODE": "fixed",
        "WORKER_WORKFLOW_TASK_POLLERS": "4",
        "WORKER_ACTIVITY_TASK_POLLERS": "6",
        "WORKER_GRACEFUL_SHUTDOWN_SECONDS": "45",
        "TEMPORAL_DEPLOYMENT_NAME": "billing",
        "TEMPORAL_WORKER_BUILD_ID": "abc123",
        "WORKER_VERSIONING_DEFAULT_BEHAVIOR": "auto-upgrade",
    }
    settings = load_settings(env)
    kwargs = worker_kwargs(settings, WorkerApp(), Lifecycle("billing", 45))
    assert kwargs["max_concurrent_activities"] == 11
    assert kwargs["max_concurrent_workflow_tasks"] == 12
    assert kwargs["max_concurrent_local_activities"] == 13
    assert kwargs["max_cached_workflows"] == 14
    assert kwargs["max_activities_per_second"] == 2.5
    assert kwargs["max_task_queue_activities_per_second"] == 50
    assert kwargs["workflow_task_poller_behavior"] == PollerBehaviorSimpleMaximum(maximum=4)
    assert kwargs["activity_task_poller_behavior"] == PollerBehaviorSimpleMaximum(maximum=6)
    assert kwargs["graceful_shutdown_timeout"].total_seconds() == 45
    deployment = kwargs["deployment_config"]
    assert deployment.version.deployment_name == "billing"
    assert deployment.version.build_id == "abc123"
    assert deployment.use_worker_versioning
    assert deployment.default_versioning_behavior == VersioningBehavior.AUTO_UPGRADE
    assert settings.build_id == "abc123"


def test_autoscaling_pollers_by_default_and_sdk_defaults_untouched() -> None:
    kwargs = worker_kwargs(load_settings(BASE), WorkerApp(), Lifecycle("billing", 30))
    assert isinstance(kwargs["workflow_task_poller_behavior"], PollerBehaviorAutoscaling)
    assert "max_concurrent_activities" not in kwargs
    assert "deployment_config" not in kwargs
    assert "activity_executor" not in kwargs


def test_sync_activities_get_a_thread_pool() -> None:
    def sync_activity() -> None: ...

    kwargs = worker_kwargs(
        load_settings(BASE), WorkerApp(activities=[sync_activity]), Lifecycle("billing", 30)
    )
    assert kwargs["activity_executor"]._max_workers == 100


def test_unknown_worker_variables_are_flagged_with_a_suggestion() -> None:
    env = {**BASE, "WORKER_GRACEFULL_SHUTDOWN_SECONDS": "5", "WORKER_IMAGE_BUILD_ID": "x"}
    assert unknown_worker_variables(env) == [
        "WORKER_GRACEFULL_SHUTDOWN_SECONDS (did you mean WORKER_GRACEFUL_SHUTDOWN_SECONDS?)"
    ]


def test_drain_budget_reads_the_same_settings(tmp_path: Path) -> None:
    path = tmp_path / "worker.json"
    path.write_text('{"WORKER_GRACEFUL_SHUTDOWN_SECONDS": 90, "WORKER_HEALTH_PORT": 8181}')
    assert drain_budget({"WORKER_CONFIG_FILE": str(path)}) == (8181, 90.0)
    assert drain_budget({}) == (8080, DEFAULT_GRACEFUL_SHUTDOWN_SECONDS)


@pytest.mark.parametrize(
    ("state", "method", "path", "code"),
    [
        ("starting", "GET", "/healthz", 200),
        ("starting", "GET", "/readyz", 503),
        ("ready", "GET", "/readyz", 200),
        ("draining", "GET", "/readyz", 503),
        ("draining", "GET", "/healthz", 200),
        ("failed", "GET", "/healthz", 503),
        ("ready", "GET", "/drain", 405),
        ("ready", "POST", "/drain", 202),
        ("ready", "GET", "/nope", 404),
    ],
)
def test_health_routes(state: str, method: str, path: str, code: int) -> None:
    async def scenario() -> None:
        lifecycle = Lifecycle("q", 30)
        lifecycle.state = state  # type: ignore[assignment]
        server = HealthServer(lifecycle.status, lambda: lifecycle.request_stop("http"))
        assert server.route(method, path)[0] == code
        assert lifecycle.stop_requested.is_set() == (method == "POST" and path == "/drain")

    asyncio.run(scenario())


def test_json_logs_carry_context_and_extras() -> None:
    formatter = JsonFormatter({"task_queue": "billing", "build_id": None, "namespace": "prod"})
    record = logging.LogRecord("workerkit", logging.INFO, "", 0, "drained", None, None)
    record.drain_seconds = 1.5
    entry = json.loads(formatter.format(record))
    assert entry["msg"] == "drained"
    assert entry["task_queue"] == "billing" and entry["namespace"] == "prod"
    assert "build_id" not in entry
    assert entry["drain_seconds"] == 1.5
