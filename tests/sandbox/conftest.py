"""Fixtures of the sandbox tests: one server per module, reset to defaults before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from booksscraper.sandbox.config import STARTUP_ONLY, SandboxConfig
from booksscraper.sandbox.testing import RunningSandbox, running_sandbox

DEFAULTS = {k: v for k, v in SandboxConfig().to_dict().items() if k not in STARTUP_ONLY}


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with running_sandbox(books=1000, seed=7) as sb:
        yield sb


@pytest.fixture
def sb(server: RunningSandbox) -> RunningSandbox:
    """The module's sandbox with every behaviour off and stats zeroed."""
    server.configure(**DEFAULTS)
    server.reset()
    return server

