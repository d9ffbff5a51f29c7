"""A clean Redis database per cluster test (the server: tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from booksscraper.tools.redis_server import RedisServer


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A client of an empty database: each test starts from a clean Redis."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    yield client
    client.close()
