"""Fixtures shared by every test tier."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.temporal_dev import DevServer, dev_server


@pytest.fixture(scope="session")
def temporal_server() -> Iterator[DevServer]:
    """A real Temporal dev server on a free 127.0.0.1 port for the whole session."""
    with dev_server() as server:
        yield server
