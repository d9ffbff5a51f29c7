"""One owner for pacing: when the next request to a site may leave, whatever proxy carries it.

Keyed by the site (the request's hostname), never by Scrapy's download slot (with proxies
the slot is the proxy). The interval between two requests to a site is the largest of every
limit (``site.Site.interval``); send times come from one GCRA schedule per site, in memory
or, with ``REDIS_URL``, in Redis (``cluster/ratelimit.py``), so the limits hold for the whole
cluster. A request that may not leave yet is never slept on: it is returned with
``meta["backoff_not_before"]`` to wait in the delayed-request holder
(``pacing/holder.py``) and comes back through the scheduler with its reserved send
time (``meta["pacing_at"]``). docs/middlewares.md ("Pacing: one owner, keyed by the site")
has the design.

Stats: ``pacing/held`` (requests held for their send time), ``pacing/held_for_concurrency``,
``pacing/returned`` (requests handed back to the engine to wait, either way),
``pacing/spaced`` (held again to keep this worker's sends an interval apart),
``pacing/reserved_again`` (cluster: a send time missed, reserved again once),
``pacing/interval_max``, ``politeness/crawl_delay``, ``retry/slowdown/raised``,
``retry/slowdown/recovered``, ``retry/slowdown/delay_max``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.asyncio import sleep
from scrapy.utils.httpobj import urlparse_cached

from booksscraper.cluster.concurrency import EXPIRY_MARGIN, ClusterSlots
from booksscraper.cluster.ratelimit import ClusterRateLimiter, domain_key_setting, require_redis
from booksscraper.config.declared import default
from booksscraper.config.readers import boolean, number, text, whole_number
from booksscraper.middlewares.backoff import THROTTLE_STATUSES
from booksscraper.middlewares.bans import is_robots_txt
from booksscraper.pacing.holder import HELD_BY, NOT_BEFORE, DelayedRequests
from booksscraper.pacing.site import Site, SlowDown

# Requests handed back to the engine to wait (each passes the scheduler once more).
RETURNED = "pacing/returned"

logger = logging.getLogger(__name__)

PACING_AT = "pacing_at"  # [wall-clock send time reserved, reserved again after missing it]
OWNER = "pacer"
# A request that comes back late for its send time (a busy event loop, a full downloader)
# keeps its reservation: reserving again would put it behind every later reservation, and
# when all come back late (a storm of hangs filling the downloader) nothing would ever go.
# What keeps late requests from bunching is the spacing rule: this worker sends no two
# requests to a site less than an interval apart (timers may fire this much early).
SPACING_SLACK = 0.001
# With the schedule in Redis, other workers' sends are not spaced by ours: a request more
# than this late (or one interval, if shorter) reserves again, once (not twice: starving).
CLUSTER_LATENESS = 0.05


class SitePacer:
    """Downloader middleware deciding when each site's next request leaves."""

    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        max_rps = number(s, "POLITENESS_MAX_RPS")
        self.floor = max(s.getfloat("DOWNLOAD_DELAY"), 1.0 / max_rps if max_rps else 0.0)
        self.obey_crawl_delay = boolean(s, "POLITENESS_OBEY_CRAWL_DELAY") and s.getbool(
            "ROBOTSTXT_OBEY"
        )
        self.crawl_delay_max = number(s, "POLITENESS_CRAWL_DELAY_MAX")
        self.robots_agent = s.get("ROBOTSTXT_USER_AGENT") or s.get("USER_AGENT") or "*"
        self.slowdown = SlowDown(
            minimum=number(s, "RETRY_SLOWDOWN_MIN"),
            maximum=number(s, "RETRY_SLOWDOWN_MAX"),
            recovery=number(s, "RETRY_SLOWDOWN_RECOVERY", maximum=1.0),
        )
        self.poll = number(s, "CLUSTER_CONCURRENCY_POLL", minimum=0.001)
        cluster_rps = number(s, "CLUSTER_MAX_RPS_PER_DOMAIN")
        cluster_cap = whole_number(s, "CLUSTER_MAX_CONCURRENCY_PER_DOMAIN")
        if cluster_rps:
            require_redis(s, "CLUSTER_MAX_RPS_PER_DOMAIN")
        if cluster_cap:
            require_redis(s, "CLUSTER_MAX_CONCURRENCY_PER_DOMAIN")
        shared = bool(text(s, "REDIS_URL") or text(s, "REDIS_HOST"))
        self.crawler = crawler
        self.stats = crawler.stats
        self.sites: dict[str, Site] = {}
        self.passed: dict[Request, tuple[str, str | None]] = {}  # -> (site, cluster token)
        self.delayed = DelayedRequests.for_crawler(crawler)
        self.rate: ClusterRateLimiter | None = None
        self.slots: ClusterSlots | None = None
        if shared:
            # With Redis every site's schedule is shared: Crawl-delay, POLITENESS_MAX_RPS and
            # the slow-down hold for the cluster, not per worker.
            from scrapy_redis.connection import get_redis_from_settings  # a cluster crawl only

            server = get_redis_from_settings(s)
            self.floor = max(self.floor, 1.0 / cluster_rps if cluster_rps else 0.0)
            burst = number(s, "CLUSTER_RPS_BURST", minimum=1.0)
            key = domain_key_setting(s, "CLUSTER_RATE_KEY", default("CLUSTER_RATE_KEY"))
            self.rate = ClusterRateLimiter(server, cluster_rps or 1.0, burst, key)
            if cluster_cap:
                key = domain_key_setting(
                    s, "CLUSTER_CONCURRENCY_KEY", default("CLUSTER_CONCURRENCY_KEY")
                )
                ttl = s.getfloat("DOWNLOAD_TIMEOUT") + EXPIRY_MARGIN
                self.slots = ClusterSlots(server, cluster_cap, ttl, key)
        crawler.signals.connect(self.robots_parsed, signal=signals.robots_parsed)
        crawler.signals.connect(self.response_downloaded, signal=signals.response_downloaded)
        crawler.signals.connect(self._left_downloader, signal=signals.request_left_downloader)
        crawler.signals.connect(self._spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SitePacer:
        return cls(crawler)

    # -- public: what the site may take -----------------------------------------------------
    def site(self, name: str) -> Site:
        state = self.sites.get(name)
        if state is None:
            state = self.sites[name] = Site()
        return state

    def interval(self, name: str, *, with_slowdown: bool = True) -> float:
        """Seconds between two requests to site ``name`` now."""
        return self.site(name).interval(self.floor, with_slowdown=with_slowdown)

    def in_flight(self, name: str) -> int:
        return self.site(name).in_flight

    def is_pacing(self, name: str) -> bool:
        """Requests of the site are waiting for their send time (the pace is what holds them)."""
        return self.site(name).held > 0

    def set_adaptive(self, name: str, concurrency: int, pace: float) -> None:
        """The adaptive controller's decision for a site: in-flight cap, seconds between sends."""
        state = self.site(name)
        state.adaptive_concurrency = concurrency
        state.adaptive_pace = pace
        self._wake(state)

    # -- signals ----------------------------------------------------------------------------
    def robots_parsed(self, robotparser: Any, request: Request) -> None:
        if not self.obey_crawl_delay:
            return
        delay = robotparser.crawl_delay(self.robots_agent)
        if not delay:
            return
        host = urlparse_cached(request).hostname or ""
        applied = min(float(delay), self.crawl_delay_max)
        if applied < delay:
            logger.warning(
                "robots.txt of %s asks for Crawl-delay %gs; applying %gs "
                "(POLITENESS_CRAWL_DELAY_MAX)", host, delay, applied,
            )
        self.site(host).crawl_delay = applied
        self.stats.max_value("politeness/crawl_delay", applied)
        logger.info("Crawl-delay of %s: %gs between requests, whatever the proxy", host, applied)

    def response_downloaded(self, response: Response, request: Request) -> None:
        name = urlparse_cached(request).hostname or ""
        state = self.site(name)
        if response.status in THROTTLE_STATUSES:
            slowed = self.slowdown.raise_after_throttling(state, self.floor, time.monotonic())
            if slowed is not None:
                self.stats.inc_value("retry/slowdown/raised")
                self.stats.max_value("retry/slowdown/delay_max", slowed)
                logger.debug("Site %s slowed down to %.2fs between requests after HTTP %d",
                             name, slowed, response.status)
        elif (state.slowdown and 200 <= response.status < 400
              and self.slowdown.recover(state, self.floor)):
            self.stats.inc_value("retry/slowdown/recovered")

    # -- the middleware ---------------------------------------------------------------------
    async def process_request(self, request: Request) -> Request | None:
        name = urlparse_cached(request).hostname or ""
        state = self.site(name)
        now = time.time()
        interval = self.interval(name)
        reserved = request.meta.pop(PACING_AT, None)
        request.meta.pop(HELD_BY, None)
        if reserved is not None:
            state.held = max(0, state.held - 1)
        if is_robots_txt(request):
            token = self._take_cluster_slot(name)
            while token is False:
                await sleep(self.poll)
                token = self._take_cluster_slot(name)
            wait = self._reserve(name, state, interval)
            if wait > 0:
                await sleep(wait)
            return self._pass(request, name, token)
        if not state.has_room():
            return self._hold_for_slot(request, name, state)
        token = self._take_cluster_slot(name)
        if token is False:
            return self._hold_for_slot(request, name, state)
        if reserved is None:
            due, again = now + self._reserve(name, state, interval), False
        else:
            due, again = reserved
            if self.rate is not None and not again and now - due > min(interval, CLUSTER_LATENESS):
                due, again = now + self._reserve(name, state, interval), True
                self.stats.inc_value("pacing/reserved_again")
        # Never two sends less than an interval apart from this worker, even for requests
        # that missed their reserved time and come back together.
        spaced = state.last_sent + interval - time.monotonic()
        if spaced > SPACING_SLACK and due - now <= SPACING_SLACK:
            self.stats.inc_value("pacing/spaced")
        wait = max(due - now, spaced)
        if wait <= SPACING_SLACK:
            return self._pass(request, name, token)
        self._give_back_cluster_slot(name, token)
        return self._hold(request, state, now + wait, [due, again])

    def _reserve(self, name: str, state: Site, interval: float) -> float:
        """Reserve the site's next send time; seconds to wait for it (0 = now)."""
        if interval <= 0:
            return 0.0
        self.stats.max_value("pacing/interval_max", round(interval, 4))
        if self.rate is not None:
            return self.rate.reserve(name, interval)
        now = time.time()
        send_at = max(state.tat, now)
        state.tat = send_at + interval
        return send_at - now

    def _take_cluster_slot(self, name: str) -> str | bool | None:
        """A cluster in-flight token, None without a cluster cap, False when the cap is reached."""
        if self.slots is None:
            return None
        token = self.slots.try_acquire(name)
        return token if token is not None else False

    def _give_back_cluster_slot(self, name: str, token: str | None) -> None:
        if self.slots is not None and token:
            self.slots.release(name, token)

    def _pass(self, request: Request, name: str, token: str | None) -> None:
        state = self.site(name)
        state.in_flight += 1
        state.last_sent = time.monotonic()
        self.passed[request] = (name, token)
        return None

    def _hold(self, request: Request, state: Site, due: float, reserved: Any) -> Request:
        """``request`` itself, marked to wait in the holder until ``due`` (no copy: it has not
        been downloaded, so nothing else keeps the object)."""
        # Back through the scheduler a second time: counted, so that it is not a new page.
        self.stats.inc_value(RETURNED)
        request.dont_filter = True  # it comes back through the scheduler: not a duplicate
        request.meta[NOT_BEFORE] = due
        request.meta[HELD_BY] = OWNER
        if reserved is not None:
            request.meta[PACING_AT] = reserved
            state.held += 1
            self.stats.inc_value("pacing/held")
        return request

    def _hold_for_slot(self, request: Request, name: str, state: Site) -> Request:
        self.stats.inc_value("pacing/held_for_concurrency")
        held = self._hold(request, state, time.time() + self.poll, None)
        state.waiting_for_slot.append(held)
        return held

    def _wake(self, state: Site) -> None:
        """A slot of the site is free: the first request waiting for one goes now."""
        while state.waiting_for_slot:
            request = state.waiting_for_slot.popleft()
            if request in self.delayed.waiting:
                self.delayed.release_now(request)
                return

    def _done(self, request: Request) -> None:
        passed = self.passed.pop(request, None)
        if passed is None:
            return
        name, token = passed
        state = self.site(name)
        state.in_flight -= 1
        self._give_back_cluster_slot(name, token)
        self._wake(state)

    def process_response(self, request: Request, response: Response) -> Response:
        self._done(request)
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        self._done(request)

    def _left_downloader(self, request: Request) -> None:
        self._done(request)

    def _spider_closed(self) -> None:
        for request in list(self.passed):
            self._done(request)
