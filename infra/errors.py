"""The one error type of the program's config validation."""

from __future__ import annotations

import pulumi

from infra.contract import PROJECT


class ConfigError(pulumi.RunError):
    """A stack config value is invalid.

    Subclasses `pulumi.RunError`, which the Python language host reports as one error line without
    a traceback and a non-zero exit. The message is one line naming the full config key.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.key = f"{PROJECT}:{path}"
        self.problem = problem
        super().__init__(f"{self.key} {problem}")
