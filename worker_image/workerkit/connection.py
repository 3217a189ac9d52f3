"""Temporal connection from Temporal's standard env config, and connecting with capped backoff."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.envconfig import ClientConfigProfile
from temporalio.runtime import Runtime

from workerkit.errors import ConfigError

log = logging.getLogger("workerkit.connection")

_TLS_FILES = (
    "TEMPORAL_TLS_CLIENT_CERT_PATH",
    "TEMPORAL_TLS_CLIENT_KEY_PATH",
    "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
)
_BOOLEANS = {"true", "false", "1", "0"}


def connect_config(env: Mapping[str, str]) -> dict[str, Any]:
    """Keyword arguments for `Client.connect`, read through `temporalio.envconfig`.

    Checks what envconfig accepts silently (a misspelt boolean, unreadable certificate files)
    so the mistake surfaces at start as one line instead of as a TLS failure later.
    """
    tls = env.get("TEMPORAL_TLS", "").strip().lower()
    if tls and tls not in _BOOLEANS:
        raise ConfigError(f"TEMPORAL_TLS must be true or false (got {env['TEMPORAL_TLS']!r})")
    for name in _TLS_FILES:
        path = env.get(name, "").strip()
        if path and not _readable(path):
            raise ConfigError(f"{name}: cannot read {path}")
    cert, key = (bool(env.get(n, "").strip()) for n in _TLS_FILES[:2])
    if cert != key:
        raise ConfigError(
            "TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH must be set together"
        )
    try:
        profile = ClientConfigProfile.load(
            profile=env.get("TEMPORAL_PROFILE") or None, override_env_vars=dict(env)
        )
        config: dict[str, Any] = dict(profile.to_client_connect_config())
    except Exception as err:  # the SDK's bridge raises its own ConfigError type
        source = "TEMPORAL_PROFILE" if env.get("TEMPORAL_PROFILE") else "TEMPORAL_CONFIG_FILE"
        raise ConfigError(f"{source}: {err}") from None
    if not config.get("target_host"):
        raise ConfigError("TEMPORAL_ADDRESS is required (host:port of the Temporal frontend)")
    config.setdefault("namespace", "default")
    return config


def _readable(path: str) -> bool:
    try:
        with Path(path).open("rb"):
            return True
    except OSError:
        return False


async def connect_with_backoff(
    config: Mapping[str, Any],
    runtime: Runtime,
    stop: asyncio.Event,
    max_backoff: float,
) -> Client | None:
    """Connect, retrying with capped exponential backoff; None if `stop` is set first."""
    delay = 0.5
    attempt = 0
    while not stop.is_set():
        attempt += 1
        try:
            return await Client.connect(**config, runtime=runtime)
        except Exception as err:
            log.warning(
                "Temporal unreachable, retrying",
                extra={
                    "address": config.get("target_host"),
                    "attempt": attempt,
                    "retry_in_s": round(delay, 2),
                    "error": str(err).splitlines()[0] if str(err) else type(err).__name__,
                },
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay * random.uniform(0.8, 1.2))
        delay = min(delay * 2, max_backoff)
    return None
