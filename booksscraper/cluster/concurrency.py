"""Cluster-wide cap on requests in flight per site, shared through Redis.

Scrapy's CONCURRENT_REQUESTS_PER_DOMAIN holds per worker (and, with proxies,
per proxy). With ``CLUSTER_MAX_CONCURRENCY_PER_DOMAIN`` the site pacer
(``booksscraper/pacing/pacer.py``) takes one of that many tokens from a Redis
sorted set before a request goes to the downloader (an atomic Lua script:
drop expired tokens, take one if fewer are held) and gives it back when the
request leaves the downloader. A request refused a token is held outside the
downloader and tries again when one of its worker's requests to the site
finishes, or after ``CLUSTER_CONCURRENCY_POLL`` seconds.

A token expires after DOWNLOAD_TIMEOUT + 30 s, so the tokens of a worker
killed with ``kill -9`` come back by themselves.
"""

from __future__ import annotations

import itertools
import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # redis costs ~0.1 s to import: only a cluster crawl does
    from redis import Redis

EXPIRY_MARGIN = 30.0

# KEYS: slots; ARGV: limit, token, seconds until the slot expires. 1 = taken.
ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = t[1] + t[2] / 1e6
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])) + 60)
return 1
"""


class ClusterSlots:
    """Up to ``limit`` tokens per domain held at once across the cluster."""

    def __init__(self, server: Redis, limit: int, ttl: float, key_template: str) -> None:
        self.server = server
        self.limit = limit
        self.ttl = ttl
        self.key_template = key_template
        self._acquire = server.register_script(ACQUIRE_LUA)
        self._worker = uuid.uuid4().hex[:12]
        self._counter = itertools.count()

    def try_acquire(self, domain: str) -> str | None:
        token = f"{self._worker}:{next(self._counter)}"
        key = self.key_template % {"domain": domain}
        taken = self._acquire(keys=[key], args=[self.limit, token, self.ttl])
        return token if int(taken) else None

    def release(self, domain: str, token: str) -> None:
        self.server.zrem(self.key_template % {"domain": domain}, token)
