"""Fixtures shared by every test area."""

from __future__ import annotations

import inspect
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from booksscraper.tools.redis_server import RedisServer, running_redis
from tests.proxies import TinyProxies

# A test that starts a process (a crawl, the sandbox, Redis, tinyproxy, scrapyd, a worker pool)
# is end-to-end: marker `e2e`, set here at collection, which `make test-fast` leaves out. It is
# one when it uses a fixture that starts one, or its own code calls what starts one.
PROCESS_FIXTURES = {
    "sandbox", "server", "sb", "make_sandbox", "slow_sandbox", "plain_crawl", "redis_server",
    "redis_client", "tinyproxies", "scrapyd_venv", "scrapyd", "deployed", "hostile",
}
STARTS_A_PROCESS = re.compile(
    r"\b(run_crawl|run_measured_crawl|start_crawl|crawl|Crawl|running_sandbox|BatchPool"
    r"|make_scrapyd_venv)\(|subprocess\.|multiprocessing\."
)


def starts_a_process(item: pytest.Item) -> bool:
    if PROCESS_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    function = getattr(item, "function", None)
    try:
        return function is not None and bool(STARTS_A_PROCESS.search(inspect.getsource(function)))
    except (OSError, TypeError):
        return False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if starts_a_process(item):
            item.add_marker(pytest.mark.e2e)


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
