"""`python -m workerkit drain`: the Kubernetes preStop command.

Asks the worker in this container to drain and blocks until it has drained, exited, or the
budget is spent, printing progress; Kubernetes sends SIGTERM only after this returns.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from workerkit.settings import drain_budget

# The worker needs a moment past its budget to report cancelled activities and exit.
EXTRA_WAIT_SECONDS = 5.0


def _call(port: int, method: str, path: str) -> dict[str, Any] | None:
    """One request to the worker's health port; None when nothing answers (worker gone)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request(method, path)
        body: dict[str, Any] = json.loads(conn.getresponse().read() or b"{}")
        return body
    except (OSError, ValueError):
        return None
    finally:
        conn.close()


def drain(env: Mapping[str, str], say: Callable[[str], None] = print, poll: float = 0.5) -> int:
    """Trigger the drain and wait for it; always exit 0 so the kubelet proceeds to SIGTERM."""
    port, graceful = drain_budget(env)
    started = time.monotonic()
    deadline = started + graceful + EXTRA_WAIT_SECONDS
    status = _call(port, "POST", "/drain")
    if status is None:
        say(f"drain: no worker answers on 127.0.0.1:{port}; nothing to drain")
        return 0
    say(
        f"drain: requested; budget {graceful:g}s; {status.get('in_flight_activities', 0)} in flight"
    )
    last = ""
    while time.monotonic() < deadline:
        status = _call(port, "GET", "/status")
        if status is None:
            say(f"drain: worker exited after {time.monotonic() - started:.1f}s")
            return 0
        if status.get("state") in ("drained", "failed"):
            say(f"drain: worker {status['state']} after {time.monotonic() - started:.1f}s")
            return 0
        line = f"drain: {status.get('in_flight_activities', 0)} activities in flight"
        if line != last:
            say(f"{line} ({time.monotonic() - started:.1f}s)")
            last = line
        time.sleep(poll)
    say(f"drain: budget of {graceful:g}s spent; worker still {status.get('state')}")
    return 0
