"""Fixtures of the infra unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.infra.harness import mocks_reset


@pytest.fixture(autouse=True)
def _clean_pulumi_runtime() -> Iterator[None]:
    """Each test starts and ends without a mock runtime or config left by another one."""
    mocks_reset()
    yield
    mocks_reset()
