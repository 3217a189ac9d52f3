"""Progress while the engine works: one concise line per resource step, errors, and a summary.

An :class:`EngineProgress` is passed as ``on_event`` to ``Stack.up``/``destroy``. Unchanged
resources are only counted; every create/update/replace/delete prints one line as it finishes
(``  + Deployment temporal-workers-pr-12/orders-worker  created (3.1s)``); error diagnostics are
printed as they come and kept, so the command can end with the first one.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from pulumi.automation import EngineEvent, OpType

_SYMBOLS = {
    OpType.CREATE: ("+", "created"),
    OpType.UPDATE: ("~", "updated"),
    OpType.DELETE: ("-", "deleted"),
    OpType.REPLACE: ("+-", "replaced"),
    OpType.CREATE_REPLACEMENT: ("++", "created replacement"),
    OpType.DELETE_REPLACED: ("--", "deleted original"),
}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def short_type(type_token: str) -> str:
    """``kubernetes:apps/v1:Deployment`` -> ``Deployment``; other tokens keep their last part."""
    return type_token.rsplit(":", 1)[-1] or type_token


def urn_name(urn: str) -> str:
    """The resource name at the end of a URN."""
    return urn.rsplit("::", 1)[-1]


@dataclass
class EngineProgress:
    """Prints progress lines for engine events; collects error messages and change counts."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    errors: list[str] = field(default_factory=list)
    changes: dict[str, int] = field(default_factory=dict)
    _started: dict[str, float] = field(default_factory=dict)

    def _print(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def __call__(self, event: EngineEvent) -> None:
        """Handle one engine event (called from the Automation API's event thread)."""
        if event.resource_pre_event is not None:
            meta = event.resource_pre_event.metadata
            self._started[meta.urn] = time.monotonic()
        elif event.res_outputs_event is not None:
            meta = event.res_outputs_event.metadata
            self.changes[meta.op.value] = self.changes.get(meta.op.value, 0) + 1
            if meta.op in _SYMBOLS and meta.type != "pulumi:pulumi:Stack":
                symbol, verb = _SYMBOLS[meta.op]
                took = time.monotonic() - self._started.get(meta.urn, time.monotonic())
                kind = short_type(meta.type)
                self._print(f"  {symbol} {kind} {urn_name(meta.urn)}  {verb} ({took:.1f}s)")
        elif event.res_op_failed_event is not None:
            meta = event.res_op_failed_event.metadata
            self._print(f"  ! {short_type(meta.type)} {urn_name(meta.urn)}  failed")
        elif event.diagnostic_event is not None:
            diag = event.diagnostic_event
            if diag.severity == "error":
                message = _ANSI.sub("", diag.message).strip()
                if message:
                    self.errors.append(message.splitlines()[0])
                    self._print(f"  error: {message}")
        elif event.policy_event is not None:
            policy = event.policy_event
            level = policy.enforcement_level
            text = " ".join(_ANSI.sub("", policy.message).strip().splitlines()[0:1])
            self._print(f"  policy {level} {policy.policy_name}: {text}")
            if level == "mandatory":
                self.errors.append(f"policy {policy.policy_name}: {text}")
        elif event.summary_event is not None:
            summary = event.summary_event
            counts = ", ".join(
                f"{count} {getattr(op, 'value', op)}"
                for op, count in sorted(summary.resource_changes.items(), key=lambda kv: str(kv[0]))
            )
            self._print(f"  done in {summary.duration_seconds}s: {counts or 'nothing to do'}")
            if summary.policy_packs:
                packs = ", ".join(
                    f"{name.split('|', 1)[0]}@{ver}"
                    for name, ver in sorted(summary.policy_packs.items())
                )
                self._print(f"  policy packs run: {packs}")

    def first_error(self) -> str | None:
        """The first error reported by the engine, if any."""
        return self.errors[0] if self.errors else None
