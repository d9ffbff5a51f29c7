"""Fixtures shared by every test area."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from booksscraper.cluster.redis_server import RedisServer, running_redis
from tests.proxies import TinyProxies


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Any]:
    """One 1000-book sandbox (no faults) for the whole run; tests must not reconfigure it."""
    from booksscraper.sandbox.testing import running_sandbox

    with running_sandbox(books=1000, seed=7) as server:
        yield server


@pytest.fixture(scope="session")
def sandbox_truth(sandbox: Any) -> list[dict[str, Any]]:
    return sandbox.truth()


@pytest.fixture
def tinyproxies(tmp_path: Path) -> Iterator[TinyProxies]:
    """Start real tinyproxy proxies with ``.start(bind, auth=...)``; all stopped after the test."""
    if shutil.which("tinyproxy") is None:
        pytest.fail("tinyproxy is not installed (apt-get install -y tinyproxy)")
    proxies = TinyProxies(tmp_path)
    try:
        yield proxies
    finally:
        proxies.stop_all()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server on a free loopback port for the whole run, stopped by PID."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (apt-get install -y redis-server)")
    with running_redis() as server:
        yield server
