"""Proxy rotation on scrapy-rotating-proxies 0.6.2's pool, with the package's faults fixed.

The package's ``Proxies`` pool is used by composition (``proxies/pool.py``); its middleware
is not a base class. What differs from the package's middleware:

- Download slots are keyed by the full proxy address ``scheme://host:port``
  (the package uses the hostname, so every proxy on 127.0.0.1 or one provider
  host shares one slot and one concurrency limit).
- Ban detection is ours (``bans.py``): the site's 429/503 is throttling, not a ban.
- Credentials stay out of ``request.meta["proxy"]``: we send them as the
  ``Proxy-Authorization`` header and store the bare ``scheme://host:port``,
  so no log line, stats key, failures record or download error can show
  them; log lines we write mask them (``user:***@``). The header is replaced
  or removed whenever a retry moves the request to another proxy, in step with
  what Scrapy's HttpProxyMiddleware reads (``compat.set_proxy_credentials``).
- Proxies judged by what they answer (``bans.py``): the proxy's own failures rest it
  and send the page to another proxy without spending the page's retries. A proxy
  that refuses our credentials (407/401) is named once, masked, and taken out for good.
- When every proxy is dead: ``wait`` for the first one to come back (the
  request waits, the crawl resumes by itself) or ``close`` the spider with
  reason ``all_proxies_dead`` (the package resets all dead proxies at once); the
  line names them. When none can come back (every one refused our credentials) the
  spider closes ``proxies_unusable`` with one line naming them, whatever the policy.
- No deprecated ``spider`` arguments; dead proxies are re-checked every second.
- One outage, one death (``proxies/pool.py``); bans are counted once per death as well.

Proxies come from a file, a setting or the environment (``proxies/sources.py``); none:
direct connections, the middleware is off.

Settings (defaults in docs/settings.md):

- ``ROTATING_PROXY_LIST``, ``ROTATING_PROXY_LIST_PATH``, ``ROTATING_PROXY_ENV_VAR``:
  where the proxies come from (above).
- ``ROTATING_PROXY_ALL_DEAD``: ``wait`` or ``close``.
- ``ROTATING_PROXY_BACKOFF_BASE`` and ``ROTATING_PROXY_BACKOFF_CAP``: seconds a dead
  proxy rests, random(0, min(cap, base * 2**deaths)).
- ``ROTATING_PROXY_PAGE_RETRY_TIMES``: other proxies a banned page tries before it
  counts as a page failure (then the retry middleware takes over).
- ``ROTATING_PROXY_LOGSTATS_INTERVAL``: seconds between pool summaries in the log.

Stats: ``proxies/good``, ``proxies/dead``, ``proxies/unchecked``,
``proxies/reanimated``, ``proxies/mean_backoff``, ``proxies/deaths`` (one per
outage), ``proxies/stale_failures`` (failures of requests sent before the
proxy's latest death, not counted again), ``proxies/state/<proxy>``
(at close: good, dead or unchecked), ``proxies/wait_seconds``, ``proxies/all_dead``,
``proxies/dropped`` (requests given up for want of a proxy, when closing or shut down
while waiting; written to the failures file), ``proxies/rejected`` (took out: refused our
credentials).
"""

from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import urlsplit

from rotating_proxies.expire import exp_backoff_full_jitter
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import task
from twisted.internet.defer import Deferred

from booksscraper.compat import BAN, ROTATING_PROXY, set_proxy_credentials
from booksscraper.config.readers import choice, number, whole_number
from booksscraper.middlewares.bans import BAN_REASON_META, rejected_credentials
from booksscraper.proxies.pool import GENERATION_META, ProxyPool
from booksscraper.proxies.sources import basic_auth, configured_proxies
from booksscraper.records.credentials import mask_proxy, proxy_key
from booksscraper.records.failures import Failures, RequestRecorded

logger = logging.getLogger(__name__)

ALL_DEAD_CHOICES = ("wait", "close")
# Seconds between checks of dead proxies whose rest is over.
REANIMATE_INTERVAL = 1.0


class ProxyRotationMiddleware:
    """Puts each request on a live proxy; a ban kills the proxy and sends the page to another.

    Built on the package's pool (``proxies/pool.py``) by composition: the package's
    middleware is not a base class, so none of its private methods is overridden.
    """

    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        proxy_list = configured_proxies(s)
        if not proxy_list:
            raise NotConfigured  # no proxies: direct connections (the normal case, not a warning)
        base = number(s, "ROTATING_PROXY_BACKOFF_BASE")
        cap = number(s, "ROTATING_PROXY_BACKOFF_CAP")
        self.logstats_interval = number(s, "ROTATING_PROXY_LOGSTATS_INTERVAL", minimum=0.1)
        self.all_dead = choice(s, "ROTATING_PROXY_ALL_DEAD", ALL_DEAD_CHOICES)
        self.max_proxies_to_try = whole_number(s, "ROTATING_PROXY_PAGE_RETRY_TIMES")
        self.crawler = crawler
        self.stats = crawler.stats
        self.proxies = ProxyPool(
            proxy_list, backoff=lambda attempt: exp_backoff_full_jitter(attempt, cap=cap, base=base)
        )
        self._tasks: list[task.LoopingCall] = []
        self._closing: Deferred[None] | None = None
        self._warned_all_dead = False
        # The last reason each proxy failed for (a stats key suffix), to name it when all are out.
        self.failed_for: dict[str, str] = {}
        self.auth_headers = {
            proxy_key(p): basic_auth(p) for p in proxy_list if urlsplit(p).username is not None
        }

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProxyRotationMiddleware:
        mw = cls(crawler)
        crawler.signals.connect(mw.engine_started, signal=signals.engine_started)
        crawler.signals.connect(mw.engine_stopped, signal=signals.engine_stopped)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        logger.info("Rotating %d proxies", len(mw.proxies.proxies))
        return mw

    def engine_started(self) -> None:
        for call, interval, now in ((self.log_pool, self.logstats_interval, True),
                                    (self.reanimate_proxies, REANIMATE_INTERVAL, False)):
            loop = task.LoopingCall(call)
            loop.start(interval, now=now)
            self._tasks.append(loop)

    def engine_stopped(self) -> None:
        for loop in self._tasks:
            if loop.running:
                loop.stop()
        self._tasks.clear()

    def log_pool(self) -> None:
        logger.info("%s", self.proxies)

    async def process_request(self, request: Request) -> None:
        if "proxy" in request.meta and not request.meta.get(ROTATING_PROXY):
            return  # a proxy chosen by the spider
        proxy = self.proxies.get_random()
        while proxy is None:
            proxy = await self._all_dead(request)
        key = proxy_key(proxy)
        request.meta["proxy"] = key
        request.meta["download_slot"] = key
        request.meta[ROTATING_PROXY] = True
        request.meta[GENERATION_META] = self.proxies.generation[proxy]
        set_proxy_credentials(request, key, self.auth_headers.get(key))

    async def _all_dead(self, request: Request) -> str | None:
        """Wait for the first dead proxy to come back, or close the spider; None if still none."""
        self.stats.inc_value("proxies/all_dead")
        engine = self.crawler.engine
        if not self.proxies.dead:  # none can come back: each refused our credentials
            self._close("proxies_unusable", "Every proxy is unusable")
            self._drop(request, "proxies_unusable")
        if self.all_dead == "close":
            self._close("all_proxies_dead", "Every proxy is dead (ROTATING_PROXY_ALL_DEAD=close)")
            self._drop(request)
        due = self.proxies.next_return() or time.time()
        if not self._warned_all_dead:
            self._warned_all_dead = True
            logger.warning(
                "Every proxy is dead (%s): waiting %.0fs for the first to come back",
                self._named(), max(0.0, due - time.time()),
            )
        # Occupying a downloader slot here is fine: nothing can be downloaded meanwhile.
        # Short naps, so a shutdown does not wait for the whole proxy backoff.
        while (now := time.time()) < due:
            if engine is not None and not engine.running:
                self._drop(request)
            nap = min(1.0, due - now)
            await asyncio.sleep(nap)
            self.stats.inc_value("proxies/wait_seconds", nap, start=0.0)
        self.proxies.reanimate()
        proxy = self.proxies.get_random()
        if proxy is not None:
            self._warned_all_dead = False
        return proxy

    def _close(self, reason: str, why: str) -> None:
        """Close the spider once, with one line naming every proxy and why it is out."""
        engine = self.crawler.engine
        if engine is not None and engine.running and self._closing is None:
            logger.error("%s: %s: closing the spider", why, self._named())
            self._closing = deferred_from_coro(engine.close_spider_async(reason=reason))

    def _named(self) -> str:
        """Every proxy, masked, with its state and last failure."""
        return ", ".join(
            f"{mask_proxy(p)} {self.proxies.state_of(p)}"
            + (f" ({self.failed_for[p]})" if p in self.failed_for else "")
            for p in self.proxies.proxies
        )

    def _drop(self, request: Request, reason: str = "all_proxies_dead") -> None:
        """Give up on ``request`` for want of a proxy: written down once, then dropped as such."""
        Failures.for_crawler(self.crawler).record_request(request, reason)
        self.stats.inc_value("proxies/dropped")
        raise RequestRecorded("all proxies are dead")

    def process_exception(self, request: Request, exception: Exception) -> Request | None:
        return self._handle_result(request)

    def process_response(self, request: Request, response: Response) -> Request | Response:
        return self._handle_result(request) or response

    def _handle_result(self, request: Request) -> Request | None:
        proxy = self.proxies.get_proxy(request.meta.get("proxy"))
        if not (proxy and request.meta.get(ROTATING_PROXY)):
            if request.meta.get(BAN):
                self._count_ban(request)  # a proxy the spider chose: no pool, no outages
            return None
        ban = request.meta.get(BAN)
        reason = request.meta.get(BAN_REASON_META)
        if ban is True and rejected_credentials(reason):
            if self.proxies.take_out(proxy):
                self.failed_for[proxy] = reason
                self.stats.inc_value("proxies/rejected")
                self._count_ban(request)
                logger.warning("Proxy %s refused our credentials (HTTP %s): taken out of the "
                               "rotation", mask_proxy(proxy), reason.rsplit("/", 1)[-1])
            result = self._retry(request)
        elif ban is True:
            if reason:
                self.failed_for[proxy] = reason
            if self.proxies.mark_dead_once(proxy, request.meta.get(GENERATION_META)):
                self.stats.inc_value("proxies/deaths")
                self._count_ban(request)
            else:
                self.stats.inc_value("proxies/stale_failures")
            result = self._retry(request)
        else:
            if ban is False:
                self.proxies.mark_good(proxy)
            result = None
        self._update_stats()
        return result

    def _count_ban(self, request: Request) -> None:
        reason = request.meta.get(BAN_REASON_META)
        if reason:
            self.stats.inc_value(f"bans/{reason}")

    def _retry(self, request: Request) -> Request | None:
        tries = request.meta.get("proxy_retry_times", 0) + 1
        if tries > request.meta.get("max_proxies_to_try", self.max_proxies_to_try):
            logger.debug("%s banned on %d proxies: a page failure now", request, tries)
            return None
        retry_request = request.copy()
        retry_request.meta["proxy_retry_times"] = tries
        retry_request.meta.pop(BAN, None)
        retry_request.dont_filter = True
        return retry_request

    def _update_stats(self) -> None:
        n_reanimated = len(self.proxies.reanimated)
        self.stats.set_value("proxies/good", len(self.proxies.good))
        self.stats.set_value("proxies/dead", len(self.proxies.dead))
        self.stats.set_value("proxies/unchecked", len(self.proxies.unchecked) - n_reanimated)
        self.stats.set_value("proxies/reanimated", n_reanimated)
        self.stats.set_value("proxies/mean_backoff", self.proxies.mean_backoff_time)

    def reanimate_proxies(self) -> None:
        if self.proxies.reanimate():
            self._update_stats()

    def spider_closed(self) -> None:
        self._update_stats()
        for proxy in self.proxies.proxies:
            self.stats.set_value(f"proxies/state/{proxy_key(proxy)}", self.proxies.state_of(proxy))
