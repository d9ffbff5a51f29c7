"""Cluster-wide cap on requests in flight per domain, shared through Redis.

Scrapy's CONCURRENT_REQUESTS_PER_DOMAIN holds per worker, so N workers keep
N times as many connections busy. This downloader middleware takes one of
``CLUSTER_MAX_CONCURRENCY_PER_DOMAIN`` slots from a Redis sorted set before
a request goes to the downloader (an atomic Lua script: drop expired slots,
take one if fewer are held) and gives it back when the request leaves the
downloader (signal ``request_left_downloader``, success or failure).

A slot expires after DOWNLOAD_TIMEOUT + 30 s, so the slots of a worker killed
with ``kill -9`` come back by themselves. While the cap is reached, one
request per worker and domain polls Redis every ``CLUSTER_CONCURRENCY_POLL``
seconds (the others wait behind it in the worker), so waiting costs few
Redis calls. Like the rate limit, the wait holds a local download slot:
when the cluster cap is reached, more local concurrency cannot help.

Settings (defaults in brackets):

- ``CLUSTER_MAX_CONCURRENCY_PER_DOMAIN`` [0 = off]: requests in flight per domain, all workers.
- ``CLUSTER_CONCURRENCY_POLL`` [0.05]: seconds between tries while the cap is reached.
- ``CLUSTER_CONCURRENCY_KEY`` ["inflight:%(domain)s"]: Redis key of a domain's slots.

Stats: ``cluster/concurrency/waited``, ``cluster/concurrency/wait_seconds_total``,
``cluster/concurrency/wait_seconds_max``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import defaultdict

from redis import Redis
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import sleep
from scrapy_redis.connection import get_redis_from_settings

from booksscraper.cluster.ratelimit import domain_key_setting, require_redis
from booksscraper.middlewares.checks import int_setting, number_setting

SLOT_META = "cluster_concurrency_slot"
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


class ClusterConcurrencyMiddleware:
    def __init__(self, crawler: Crawler, slots: ClusterSlots, poll: float) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.slots = slots
        self.poll = poll
        self.pollers: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.held: dict[str, str] = {}  # token -> domain
        crawler.signals.connect(self._left_downloader, signal=signals.request_left_downloader)
        crawler.signals.connect(self._spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ClusterConcurrencyMiddleware:
        s = crawler.settings
        limit = int_setting(s, "CLUSTER_MAX_CONCURRENCY_PER_DOMAIN", 0)
        if not limit:
            raise NotConfigured
        require_redis(s, "CLUSTER_MAX_CONCURRENCY_PER_DOMAIN")
        poll = number_setting(s, "CLUSTER_CONCURRENCY_POLL", 0.05, minimum=0.001)
        key = domain_key_setting(s, "CLUSTER_CONCURRENCY_KEY", "inflight:%(domain)s")
        ttl = s.getfloat("DOWNLOAD_TIMEOUT") + EXPIRY_MARGIN
        return cls(crawler, ClusterSlots(get_redis_from_settings(s), limit, ttl, key), poll)

    async def process_request(self, request: Request) -> None:
        engine = self.crawler.engine
        domain = engine.downloader.get_slot_key(request) if engine else request.url
        token = self.slots.try_acquire(domain)
        if token is None:
            started = time.monotonic()
            async with self.pollers[domain]:  # one poller per worker and domain
                while token is None:
                    await sleep(self.poll)
                    token = self.slots.try_acquire(domain)
            waited = time.monotonic() - started
            self.stats.inc_value("cluster/concurrency/waited")
            self.stats.inc_value("cluster/concurrency/wait_seconds_total", waited, start=0.0)
            self.stats.max_value("cluster/concurrency/wait_seconds_max", waited)
        request.meta[SLOT_META] = (domain, token)
        self.held[token] = domain

    def _left_downloader(self, request: Request) -> None:
        slot = request.meta.pop(SLOT_META, None)
        if slot is not None:
            domain, token = slot
            self.held.pop(token, None)
            self.slots.release(domain, token)

    def _spider_closed(self) -> None:
        for token, domain in list(self.held.items()):
            self.slots.release(domain, token)
        self.held.clear()
