"""The command lines the CI workflows run (.github/workflows), shared with the tests that run them.

Each entry is a command template with ``{placeholders}``. The e2e tests build their commands from
these templates (:func:`argv`), and ``tests/unit/test_ci_workflows.py`` checks that every ``make``
line in the workflows matches one of them, so a workflow cannot drift from what the tests prove.
"""

from __future__ import annotations

import re
import shlex

PREVIEW_UP = "make preview-up PR={pr} IMAGE_REF={image_ref}"
PREVIEW_DESTROY = "make preview-destroy PR={pr}"
PREVIEW_LIST = "make preview-list"
PREVIEW_GC = "make preview-gc"
PREVIEW_GC_TTL = "make preview-gc TTL={ttl}"
POLICY_GATE = "make policy-gate STACK={stack} POLICY_PROFILE=production"
PROMOTE = "make promote STACK={stack} IMAGE_REF={image_ref}"
DEPLOY = "make deploy STACK={stack}"

WORKFLOW_COMMANDS: dict[str, str] = {
    "preview-up": PREVIEW_UP,
    "preview-destroy": PREVIEW_DESTROY,
    "preview-list": PREVIEW_LIST,
    "preview-gc": PREVIEW_GC,
    "preview-gc-ttl": PREVIEW_GC_TTL,
    "policy-gate": POLICY_GATE,
    "promote": PROMOTE,
    "deploy": DEPLOY,
}
"""Every command a workflow may run, by name."""


def argv(template: str, **values: str) -> list[str]:
    """The argument vector of ``template`` with its placeholders filled in."""
    return shlex.split(template.format(**values))


def pattern(template: str) -> re.Pattern[str]:
    """A regex matching ``template`` with any one shell word in place of each placeholder."""
    parts = re.split(r"\{[a-z_]+\}", template)
    return re.compile(r"\S+".join(re.escape(part) for part in parts) + r"$")


def placeholders(template: str) -> list[str]:
    """The placeholder names of ``template``, in order."""
    return re.findall(r"\{([a-z_]+)\}", template)
