"""Print the Kubernetes objects a stack file produces (program run under mocks) as YAML.

    .venv/bin/python -m tests.infra.render <stack> [<task queue>]

Secret values are shown as `[secret]`; the image digest is the mocks' fake one for built images.
"""

from __future__ import annotations

import sys
from typing import Any

import yaml

from tests.infra.harness import SECRET_SIG, mocks_reset, run_program, stack_file_config

KEY_ORDER = ("apiVersion", "kind", "metadata", "spec", "type", "data", "stringData")


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SECRET_SIG) is not None:
            return "[secret]"
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _ordered(obj: dict[str, Any]) -> dict[str, Any]:
    head = {k: obj[k] for k in KEY_ORDER if k in obj}
    return {**head, **{k: v for k, v in obj.items() if k not in head}}


def render(stack: str, queue: str | None = None) -> str:
    """YAML documents of every object of `stack` (only `queue`'s objects when given)."""
    run = run_program(stack_file_config(stack), stack=stack)
    mocks_reset()
    objects = [
        _ordered(_mask(r.inputs))
        for r in run.registrations
        if r.typ.startswith("kubernetes:") and "apiVersion" in r.inputs
    ]
    if queue is not None:
        objects = [
            o
            for o in objects
            if o["metadata"].get("labels", {}).get("temporal.io/task-queue") == queue
        ]
    return yaml.safe_dump_all(objects, sort_keys=False, width=100)


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python -m tests.infra.render <stack> [<task queue>]")
    sys.stdout.write(render(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else None))
