"""The shared per-site schedule in Redis: GCRA send times for every worker.

Each worker applying its own limits would send N times the load. The site
pacer (``booksscraper/pacing/pacer.py``) reserves every request's send time
(retries and robots.txt included) from one schedule per site kept in Redis,
passing its interval (the largest of Crawl-delay, POLITENESS_MAX_RPS, the
429/503 slow-down, the adaptive pace and ``1 / CLUSTER_MAX_RPS_PER_DOMAIN``).

The schedule is GCRA (the "generic cell rate algorithm", a token bucket
written as one timestamp), updated by an atomic Lua script on the Redis
clock: each call reserves the next free slot, ``interval`` seconds after the
previous one, and up to ``burst`` requests may go at once after a quiet
spell. One Redis call per request, no polling, first come first served
across the cluster; a worker that dies after reserving only wastes a slot.
A request that must wait is held outside the downloader by the pacer, never
slept on in a middleware.

Settings: ``CLUSTER_MAX_RPS_PER_DOMAIN``, ``CLUSTER_RPS_BURST``, ``CLUSTER_RATE_KEY``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy.settings import BaseSettings

from booksscraper.cluster.mode import is_cluster
from booksscraper.config.errors import BadConfig

if TYPE_CHECKING:  # redis costs ~0.1 s to import: only a cluster crawl does
    from redis import Redis

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

    def reserve(self, domain: str, interval: float | None = None) -> float:
        """Seconds to wait before sending one request to ``domain`` (0 = now).

        ``interval``: seconds between requests for this reservation (default: 1 / rate);
        the site pacer passes its own, the largest of every limit it knows.
        """
        key = self.key_template % {"domain": domain}
        interval_us = self.interval_us if interval is None else round(interval * 1_000_000)
        wait_us = self._reserve(keys=[key], args=[interval_us, self.burst])
        return int(wait_us) / 1_000_000


def require_redis(settings: BaseSettings, name: str) -> None:
    """BadConfig naming ``name`` unless the shared Redis is configured (REDIS_URL or REDIS_HOST)."""
    if not is_cluster(settings):
        raise BadConfig(f"{name}: needs REDIS_URL (the shared Redis)")


def domain_key_setting(settings: BaseSettings, name: str, default: str) -> str:
    """A Redis key template with ``%(domain)s`` and no other placeholder, else BadConfig."""
    key = settings.get(name, default)
    try:
        key % {"domain": "x"}
    except (KeyError, TypeError, ValueError):
        raise BadConfig(f"{name}: needs %(domain)s and nothing else, got {key!r}") from None
    return key
