"""Bad configuration: one line naming the variable and the problem, exit code 2, no traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.workers import base_env, run_workerkit

pytestmark = pytest.mark.worker

GOOD = {
    "TEMPORAL_ADDRESS": "127.0.0.1:1",
    "TEMPORAL_TASK_QUEUE": "orders",
    "WORKER_APP": "orders_app.queues:orders",
}


def _case(tmp: Path, name: str) -> tuple[dict[str, str | None], str]:
    bad_json = tmp / "bad.json"
    bad_json.write_text("{not json")
    typo_json = tmp / "typo.json"
    typo_json.write_text('{"WORKER_MAX_CONCURENT_ACTIVITIES": 5}')
    cases: dict[str, tuple[dict[str, str | None], str]] = {
        "no-queue": (
            {"TEMPORAL_TASK_QUEUE": None},
            "TEMPORAL_TASK_QUEUE is required (the task queue this worker polls)",
        ),
        "no-app": (
            {"WORKER_APP": None},
            "WORKER_APP is required (module:attribute of the workflows/activities)",
        ),
        "app-no-colon": (
            {"WORKER_APP": "orders_app.queues"},
            "WORKER_APP must be module:attribute (got 'orders_app.queues')",
        ),
        "app-missing-module": (
            {"WORKER_APP": "nope_module:app"},
            "WORKER_APP: cannot import module 'nope_module' (No module named 'nope_module')",
        ),
        "app-missing-attribute": (
            {"WORKER_APP": "orders_app.queues:payments"},
            "WORKER_APP: module 'orders_app.queues' has no attribute 'payments'",
        ),
        "app-wrong-shape": (
            {"WORKER_APP": "tests.apps.slow_app:not_an_app"},
            "WORKER_APP: tests.apps.slow_app:not_an_app must have 'workflows' and "
            "'activities' attributes",
        ),
        "app-empty": (
            {"WORKER_APP": "tests.apps.slow_app:empty"},
            "WORKER_APP: tests.apps.slow_app:empty has no workflows and no activities",
        ),
        "graceful-zero": (
            {"WORKER_GRACEFUL_SHUTDOWN_SECONDS": "0"},
            "WORKER_GRACEFUL_SHUTDOWN_SECONDS must be a number > 0 (got '0')",
        ),
        "graceful-text": (
            {"WORKER_GRACEFUL_SHUTDOWN_SECONDS": "soon"},
            "WORKER_GRACEFUL_SHUTDOWN_SECONDS must be a number > 0 (got 'soon')",
        ),
        "health-port-range": (
            {"WORKER_HEALTH_PORT": "70000"},
            "WORKER_HEALTH_PORT must be a port number 1-65535 (got '70000')",
        ),
        "ports-clash": (
            {"WORKER_HEALTH_PORT": "9000", "WORKER_METRICS_PORT": "9000"},
            "WORKER_METRICS_PORT must differ from WORKER_HEALTH_PORT (both 9000)",
        ),
        "poller-mode": (
            {"WORKER_POLLER_MODE": "turbo"},
            "WORKER_POLLER_MODE must be one of autoscaling, fixed (got 'turbo')",
        ),
        "workflow-pollers": (
            {"WORKER_WORKFLOW_TASK_POLLERS": "1"},
            "WORKER_WORKFLOW_TASK_POLLERS must be >= 2 (got 1)",
        ),
        "concurrency-negative": (
            {"WORKER_MAX_CONCURRENT_ACTIVITIES": "-3"},
            "WORKER_MAX_CONCURRENT_ACTIVITIES must be an integer >= 1 (got '-3')",
        ),
        "versioning-half": (
            {"TEMPORAL_DEPLOYMENT_NAME": "orders"},
            "TEMPORAL_DEPLOYMENT_NAME and TEMPORAL_WORKER_BUILD_ID must be set together "
            "(TEMPORAL_WORKER_BUILD_ID is missing)",
        ),
        "versioning-behavior": (
            {
                "TEMPORAL_DEPLOYMENT_NAME": "orders",
                "TEMPORAL_WORKER_BUILD_ID": "b1",
                "WORKER_VERSIONING_DEFAULT_BEHAVIOR": "sometimes",
            },
            "WORKER_VERSIONING_DEFAULT_BEHAVIOR must be one of pinned, auto-upgrade "
            "(got 'sometimes')",
        ),
        "config-file-missing": (
            {"WORKER_CONFIG_FILE": str(tmp / "absent.json")},
            f"WORKER_CONFIG_FILE: cannot read {tmp / 'absent.json'} (No such file or directory)",
        ),
        "config-file-not-json": (
            {"WORKER_CONFIG_FILE": str(bad_json)},
            f"WORKER_CONFIG_FILE: {bad_json} is not valid JSON "
            "(Expecting property name enclosed in double quotes)",
        ),
        "config-file-typo": (
            {"WORKER_CONFIG_FILE": str(typo_json)},
            f"WORKER_CONFIG_FILE: unknown key 'WORKER_MAX_CONCURENT_ACTIVITIES' in {typo_json} "
            "(did you mean WORKER_MAX_CONCURRENT_ACTIVITIES?)",
        ),
        "tls-flag": (
            {"TEMPORAL_TLS": "maybe"},
            "TEMPORAL_TLS must be true or false (got 'maybe')",
        ),
        "tls-cert-missing": (
            {
                "TEMPORAL_TLS_CLIENT_CERT_PATH": "/nonexistent/tls.crt",
                "TEMPORAL_TLS_CLIENT_KEY_PATH": "/nonexistent/tls.key",
            },
            "TEMPORAL_TLS_CLIENT_CERT_PATH: cannot read /nonexistent/tls.crt",
        ),
        "profile-missing": (
            {"TEMPORAL_PROFILE": "staging"},
            "TEMPORAL_PROFILE: Profile 'staging' not found",
        ),
        "no-address": (
            {"TEMPORAL_ADDRESS": None},
            "TEMPORAL_ADDRESS is required (host:port of the Temporal frontend)",
        ),
        "log-level": (
            {"WORKER_LOG_LEVEL": "loud"},
            "WORKER_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR (got 'loud')",
        ),
    }
    return cases[name]


CASES = [
    "no-queue", "no-app", "app-no-colon", "app-missing-module", "app-missing-attribute",
    "app-wrong-shape", "app-empty", "graceful-zero", "graceful-text", "health-port-range",
    "ports-clash", "poller-mode", "workflow-pollers", "concurrency-negative", "versioning-half",
    "versioning-behavior", "config-file-missing", "config-file-not-json", "config-file-typo",
    "tls-flag", "tls-cert-missing", "profile-missing", "no-address", "log-level",
]  # fmt: skip


@pytest.mark.parametrize("name", CASES)
def test_bad_config_is_one_line_and_exit_2(name: str, tmp_path: Path) -> None:
    changes, message = _case(tmp_path, name)
    env = base_env(**GOOD, TEMPORAL_CONFIG_FILE=str(tmp_path / "no-temporal.toml"))
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    result = run_workerkit([], env, timeout=30)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == f"workerkit: {message}\n"
    assert "Traceback" not in result.stdout + result.stderr


def test_env_wins_over_config_file(tmp_path: Path) -> None:
    config = tmp_path / "worker.json"
    config.write_text('{"WORKER_GRACEFUL_SHUTDOWN_SECONDS": 0}')
    env = base_env(**GOOD, WORKER_CONFIG_FILE=str(config))
    assert run_workerkit(["check-config"], env).returncode == 2
    env["WORKER_GRACEFUL_SHUTDOWN_SECONDS"] = "45"
    result = run_workerkit(["check-config"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "workerkit: configuration OK for task queue 'orders'"


@pytest.mark.parametrize("variable", ["WORKER_HEALTH_PORT", "WORKER_METRICS_PORT"])
def test_port_in_use_is_one_line_and_exit_2(variable: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        other = "WORKER_METRICS_PORT" if variable == "WORKER_HEALTH_PORT" else "WORKER_HEALTH_PORT"
        env = base_env(
            **GOOD,
            WORKER_BIND_ADDRESS="127.0.0.1",
            **{variable: str(port), other: str(free_port())},
        )
        result = run_workerkit([], env, timeout=30)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == (
        f"workerkit: {variable}: cannot listen on 127.0.0.1:{port} (Address already in use)\n"
    )
