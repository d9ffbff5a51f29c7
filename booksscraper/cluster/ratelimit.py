"""Cluster-wide requests-per-second limit per domain, shared through Redis.

Each worker applies Scrapy's per-domain limits on its own, so N workers send
N times the load. This downloader middleware makes every request (retries
and robots.txt included) first reserve a send time from one schedule per
domain kept in Redis, then wait until that time.

The schedule is GCRA (the "generic cell rate algorithm", a token bucket
written as one timestamp), updated by an atomic Lua script on the Redis
clock: each call reserves the next free slot, ``1/rate`` seconds after the
previous one, and up to ``burst`` requests may go at once after a quiet
spell. One Redis call per request, no polling, first come first served
across the cluster; a worker that dies after reserving only wastes a slot.

Why wait in ``process_request``: the wait holds one of the worker's
CONCURRENT_REQUESTS slots, which is what a politeness limit should do: when
the shared rate is the bottleneck, more concurrency cannot help, and the
crawl has one site. (A crawl of many sites at once would rather wait per
download slot; not needed here.) The middleware sits next to the downloader
so the reserved time is close to the send time. A request goes out no
earlier than its slot and (see below) at most one interval later, so a
1-second window holds at most about ``rate + burst + 1`` requests, plus any
that queued behind a full download slot (CONCURRENT_REQUESTS_PER_DOMAIN).

Settings (defaults in brackets):

- ``CLUSTER_MAX_RPS_PER_DOMAIN`` [0 = off]: requests per second per domain, all workers together.
- ``CLUSTER_RPS_BURST`` [1]: requests that may go at once after a quiet spell.
- ``CLUSTER_RATE_KEY`` ["ratelimit:%(domain)s"]: Redis key of a domain's schedule.

A busy event loop (CPU-bound parsing, a slow machine) wakes sleepers late
and all at once; a request that wakes more than one interval after its slot
gives the slot up and reserves a new one, so such stalls do not turn into
bursts.

Stats: ``cluster/ratelimit/waited`` (requests that had to wait),
``cluster/ratelimit/late_reserved_again`` (woke too late, took a new slot),
``cluster/ratelimit/wait_seconds_total``, ``cluster/ratelimit/wait_seconds_max``.
"""

from __future__ import annotations

import logging
import time

from redis import Redis
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.settings import BaseSettings
from scrapy.utils.asyncio import sleep
from scrapy_redis.connection import get_redis_from_settings

from booksscraper.errors import BadConfig
from booksscraper.middlewares.checks import number_setting

logger = logging.getLogger(__name__)

# KEYS: schedule key; ARGV: interval (µs between requests), burst.
# Returns the wait in µs before the caller may send.
RESERVE_LUA = """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
local send_at = new_tat - burst * interval
redis.call('SET', KEYS[1], string.format('%d', new_tat),
           'PX', math.ceil((new_tat - now) / 1000) + 1000)
if send_at > now then return send_at - now end
return 0
"""


class ClusterRateLimiter:
    """Reserves send times from a per-domain GCRA schedule in Redis."""

    def __init__(self, server: Redis, rate: float, burst: float, key_template: str) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.server = server
        self.interval_us = round(1_000_000 / rate)
        self.interval = self.interval_us / 1_000_000
        self.burst = burst
        self.key_template = key_template
        self._reserve = server.register_script(RESERVE_LUA)

    def reserve(self, domain: str) -> float:
        """Seconds to wait before sending one request to ``domain`` (0 = now)."""
        key = self.key_template % {"domain": domain}
        wait_us = self._reserve(keys=[key], args=[self.interval_us, self.burst])
        return int(wait_us) / 1_000_000


def require_redis(settings: BaseSettings, name: str) -> None:
    """BadConfig naming ``name`` unless the shared Redis is configured (REDIS_URL or REDIS_HOST)."""
    if not settings.get("REDIS_URL") and not settings.get("REDIS_HOST"):
        raise BadConfig(f"{name}: needs REDIS_URL (the shared Redis)")


def domain_key_setting(settings: BaseSettings, name: str, default: str) -> str:
    """A Redis key template with ``%(domain)s`` and no other placeholder, else BadConfig."""
    key = settings.get(name, default)
    try:
        key % {"domain": "x"}
    except (KeyError, TypeError, ValueError):
        raise BadConfig(f"{name}: needs %(domain)s and nothing else, got {key!r}") from None
    return key


class ClusterRateLimitMiddleware:
    def __init__(self, crawler: Crawler, limiter: ClusterRateLimiter) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.limiter = limiter

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ClusterRateLimitMiddleware:
        s = crawler.settings
        rate = number_setting(s, "CLUSTER_MAX_RPS_PER_DOMAIN", 0.0)
        if not rate:
            raise NotConfigured
        require_redis(s, "CLUSTER_MAX_RPS_PER_DOMAIN")
        burst = number_setting(s, "CLUSTER_RPS_BURST", 1.0, minimum=1.0)
        key = domain_key_setting(s, "CLUSTER_RATE_KEY", "ratelimit:%(domain)s")
        limiter = ClusterRateLimiter(get_redis_from_settings(s), rate, burst, key)
        return cls(crawler, limiter)

    async def process_request(self, request: Request) -> None:
        engine = self.crawler.engine
        domain = engine.downloader.get_slot_key(request) if engine else request.url
        while True:
            wait = self.limiter.reserve(domain)
            if wait <= 0:
                return
            due = time.monotonic() + wait
            self.stats.inc_value("cluster/ratelimit/waited")
            self.stats.inc_value("cluster/ratelimit/wait_seconds_total", wait, start=0.0)
            self.stats.max_value("cluster/ratelimit/wait_seconds_max", wait)
            await sleep(wait)
            # A busy event loop wakes many sleepers at once, late: sending them all would
            # be a burst. A request woken more than one interval late takes a new slot.
            if time.monotonic() - due <= self.limiter.interval:
                return
            self.stats.inc_value("cluster/ratelimit/late_reserved_again")
