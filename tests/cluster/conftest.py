"""A real redis-server for the cluster tests, started on a free loopback port, stopped by PID."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import redis

from booksscraper.cluster.redis_server import RedisServer, running_redis


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with running_redis() as server:
        yield server


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A client of an empty database: each test starts from a clean Redis."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    yield client
    client.close()
