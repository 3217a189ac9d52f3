"""Command line: run the worker (default), the preStop drain command, or check the config."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Mapping, Sequence

from workerkit.app import load_app
from workerkit.connection import connect_config
from workerkit.drain import drain
from workerkit.errors import ConfigError
from workerkit.logs import configure_logging
from workerkit.runner import run
from workerkit.settings import load_settings, unknown_worker_variables

EXIT_CONFIG = 2
USAGE = "usage: python -m workerkit [run|drain|check-config]"


def main(argv: Sequence[str], env: Mapping[str, str] | None = None) -> int:
    """Entry point; returns the exit code."""
    env = dict(os.environ if env is None else env)
    command = argv[0] if argv else "run"
    if command == "drain":
        try:
            return drain(env)
        except ConfigError as err:
            print(f"workerkit: {err}", file=sys.stderr)
            return EXIT_CONFIG
    if command not in ("run", "check-config") or len(argv) > 1:
        print(USAGE, file=sys.stderr)
        return EXIT_CONFIG
    try:
        settings = load_settings(env)
        connect = connect_config(env)
        configure_logging(
            settings.log_level,
            {
                "task_queue": settings.task_queue,
                "namespace": connect.get("namespace"),
                "build_id": settings.build_id,
            },
        )
        app = load_app(settings.app)
    except ConfigError as err:
        print(f"workerkit: {err}", file=sys.stderr)
        return EXIT_CONFIG
    log = logging.getLogger("workerkit")
    for name in unknown_worker_variables(env):
        log.warning("unknown WORKER_* variable ignored", extra={"variable": name})
    if command == "check-config":
        print(f"workerkit: configuration OK for task queue {settings.task_queue!r}")
        return 0
    try:
        return asyncio.run(run(settings, app, connect))
    except ConfigError as err:
        print(f"workerkit: {err}", file=sys.stderr)
        return EXIT_CONFIG
