"""The shared GCRA schedule (token bucket) against a real redis-server."""

from __future__ import annotations

import time

import pytest
import redis

from booksscraper.cluster.ratelimit import ClusterRateLimiter

pytestmark = pytest.mark.timeout(30)

KEY = "ratelimit:%(domain)s"
# Waits are computed by Redis from its clock; between two calls a little real
# time passes (a Redis round trip), so reserved waits may be that much shorter.
SLACK = 0.03


def test_requests_are_spaced_by_one_over_the_rate(redis_client: redis.Redis) -> None:
    limiter = ClusterRateLimiter(redis_client, rate=10, burst=1, key_template=KEY)
    started = time.monotonic()
    waits, elapsed = [], []
    for _ in range(5):
        waits.append(limiter.reserve("example.com"))
        elapsed.append(time.monotonic() - started)
    for i, wait in enumerate(waits):
        # Shorter by at most the real time passed since the first call (more than SLACK on a
        # loaded machine, as under parallel test workers).
        assert i * 0.1 - max(SLACK, elapsed[i]) <= wait <= i * 0.1 + 1e-6


def test_burst_lets_that_many_go_at_once(redis_client: redis.Redis) -> None:
    limiter = ClusterRateLimiter(redis_client, rate=10, burst=3, key_template=KEY)
    waits = [limiter.reserve("example.com") for _ in range(5)]
    assert waits[:3] == [0, 0, 0]
    assert 0.1 - SLACK <= waits[3] <= 0.1 + 1e-6
    assert 0.2 - SLACK <= waits[4] <= 0.2 + 1e-6


def test_workers_share_one_schedule_per_domain(redis_server, redis_client) -> None:
    # Two clients stand for two worker processes.
    worker_a = ClusterRateLimiter(redis.Redis.from_url(redis_server.url), 10, 1, KEY)
    worker_b = ClusterRateLimiter(redis.Redis.from_url(redis_server.url), 10, 1, KEY)
    waits = [w.reserve("example.com") for w in (worker_a, worker_b, worker_a, worker_b)]
    for i, wait in enumerate(waits):
        assert i * 0.1 - SLACK <= wait <= i * 0.1 + 1e-6
    # Another domain has its own schedule.
    assert worker_b.reserve("other.example") == 0


def test_schedule_recovers_after_a_quiet_spell(redis_client: redis.Redis) -> None:
    limiter = ClusterRateLimiter(redis_client, rate=20, burst=2, key_template=KEY)
    for _ in range(4):
        limiter.reserve("example.com")
    time.sleep(0.25)  # the 4 reservations end 0.2 s from the start; then the bucket refills
    assert [limiter.reserve("example.com") for _ in range(2)] == [0, 0]


def test_schedule_key_expires_when_idle(redis_client: redis.Redis) -> None:
    limiter = ClusterRateLimiter(redis_client, rate=10, burst=1, key_template=KEY)
    limiter.reserve("example.com")
    ttl_ms = redis_client.pttl("ratelimit:example.com")
    assert 0 < ttl_ms <= 1200
