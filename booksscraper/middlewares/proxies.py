"""Proxy rotation on scrapy-rotating-proxies 0.6.2, with its faults fixed.

What we change in the package (subclassing, not forking):

- Download slots are keyed by the full proxy address ``scheme://host:port``
  (the package uses the hostname, so every proxy on 127.0.0.1 or one provider
  host shares one slot and one concurrency limit).
- Ban detection is ours (``bans.py``): the site's 429/503 is throttling, not a ban.
- Credentials stay out of ``request.meta["proxy"]``: we send them as the
  ``Proxy-Authorization`` header and store the bare ``scheme://host:port``,
  so no log line, stats key, failures record or download error can show
  them; log lines we write mask them (``user:***@``). The header is replaced
  or removed whenever a retry moves the request to another proxy, and
  ``meta["_auth_proxy"]`` is kept in step so Scrapy's HttpProxyMiddleware
  leaves it alone.
- When every proxy is dead: ``wait`` for the first one to come back (the
  request waits, the crawl resumes by itself) or ``close`` the spider with
  reason ``all_proxies_dead`` (the package resets all dead proxies at once).
- No deprecated ``spider`` arguments; dead proxies are re-checked every second.
- One outage, one death: each request records the outage generation of its
  proxy when it is sent (``meta["proxy_generation"]``); a failure of a
  request sent before the proxy's latest death does not mark it dead again
  (the package counts every request in flight through a dropped proxy as one
  more failed attempt, so a 1-second outage rested the proxy for the better
  part of an hour). Bans are counted once per death as well.

Proxies come from, first found: ``ROTATING_PROXY_LIST_PATH`` (a file, one
per line, ``#`` comments), ``ROTATING_PROXY_LIST`` (a list or a
comma-separated string), the environment variable named by
``ROTATING_PROXY_ENV_VAR`` (comma or whitespace separated). None: direct
connections, the middleware is off.

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
while waiting; written to the failures file).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from rotating_proxies.expire import Proxies, exp_backoff_full_jitter
from rotating_proxies.middlewares import RotatingProxyMiddleware
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.utils.defer import deferred_from_coro
from twisted.internet.defer import Deferred

from booksscraper.config.errors import BadConfig
from booksscraper.config.readers import choice, number, text, text_list, whole_number
from booksscraper.middlewares.bans import BAN_REASON_META
from booksscraper.records.credentials import mask_proxy, proxy_key
from booksscraper.records.failures import Failures, RequestRecorded

logger = logging.getLogger(__name__)

ALL_DEAD_CHOICES = ("wait", "close")


def parse_proxy_url(text: str, setting: str) -> str:
    """A proxy URL, ``http://`` added when no scheme is given; BadConfig (masked) when malformed."""
    url = text if "://" in text else f"http://{text}"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        port = None
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or port is None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise BadConfig(
            f"{setting}: malformed proxy URL {mask_proxy(text)!r} "
            "(expected http[s]://[user:password@]host:port)"
        )
    return url.rstrip("/")


def configured_proxies(settings: BaseSettings, environ: dict[str, str] | None = None) -> list[str]:
    """The proxy list from the file, the setting or the environment (first found), validated."""
    environ = os.environ if environ is None else environ
    path = text(settings, "ROTATING_PROXY_LIST_PATH")
    listed = text_list(settings, "ROTATING_PROXY_LIST")
    env_var = text(settings, "ROTATING_PROXY_ENV_VAR")
    if path:
        setting = "ROTATING_PROXY_LIST_PATH"
        try:
            content = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or str(exc)
            raise BadConfig(f"{setting}: cannot read proxy file {path}: {why}") from None
        entries = [line.strip() for line in content.splitlines()]
    elif any(listed):
        setting = "ROTATING_PROXY_LIST"
        entries = [e.strip() for e in listed]
    elif env_var and environ.get(env_var, "").strip():
        setting = env_var
        entries = re.split(r"[\s,]+", environ[env_var])
    else:
        return []
    proxies = [parse_proxy_url(e, setting) for e in entries if e and not e.startswith("#")]
    if path and not proxies:
        raise BadConfig(f"ROTATING_PROXY_LIST_PATH: proxy file {path} lists no proxies")
    return list(dict.fromkeys(proxies))  # keep order, drop repeats


GENERATION_META = "proxy_generation"


class ProxyPool(Proxies):
    """The package's good/dead/unchecked pool, logging masked URLs, one death per outage."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Deaths of each proxy so far: a request sent under an older count was in flight
        # when the proxy died, and its failure is part of that same outage.
        self.generation: dict[str, int] = dict.fromkeys(self.proxies, 0)

    def mark_dead_once(self, proxy: str, sent_generation: int | None) -> bool:
        """Mark ``proxy`` dead unless the request was sent before its latest death.

        True when this is a new death, False for a stale failure of the same outage.
        """
        if sent_generation is not None and sent_generation != self.generation[proxy]:
            return False
        self.mark_dead(proxy)
        return True

    def mark_dead(self, proxy: str, _time: float | None = None) -> None:
        self.generation[proxy] += 1
        was_good = proxy in self.good
        state = self.proxies[proxy]
        self.unchecked.discard(proxy)
        self.good.discard(proxy)
        self.dead.add(proxy)
        state.backoff_time = self.backoff(state.failed_attempts)
        state.next_check = (_time or time.time()) + state.backoff_time
        state.failed_attempts += 1
        logger.info(
            "Proxy %s is dead%s; next check in %.0fs",
            mask_proxy(proxy),
            " (was good)" if was_good else "",
            state.backoff_time,
        )

    def mark_good(self, proxy: str) -> None:
        if proxy not in self.good:
            logger.debug("Proxy %s is good", mask_proxy(proxy))
        self.unchecked.discard(proxy)
        self.dead.discard(proxy)
        self.good.add(proxy)
        self.proxies[proxy].failed_attempts = 0

    def next_return(self) -> float | None:
        """When the first dead proxy is due back (a time.time() value), or None."""
        return min((self.proxies[p].next_check for p in self.dead), default=None)

    def state_of(self, proxy: str) -> str:
        if proxy in self.good:
            return "good"
        return "dead" if proxy in self.dead else "unchecked"


class ProxyRotationMiddleware(RotatingProxyMiddleware):
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
        self.reanimate_interval = 1.0
        self.stop_if_no_proxies = self.all_dead == "close"
        self._closing: Deferred[None] | None = None
        self._warned_all_dead = False
        self.auth_headers = {
            proxy_key(p): _basic_auth(p) for p in proxy_list if urlsplit(p).username is not None
        }

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProxyRotationMiddleware:
        mw = cls(crawler)
        crawler.signals.connect(mw.engine_started, signal=signals.engine_started)
        crawler.signals.connect(mw.engine_stopped, signal=signals.engine_stopped)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        logger.info("Rotating %d proxies", len(mw.proxies.proxies))
        return mw

    async def process_request(self, request: Request) -> None:  # type: ignore[override]
        if "proxy" in request.meta and not request.meta.get("_rotating_proxy"):
            return  # a proxy chosen by the spider
        proxy = self.proxies.get_random()
        while proxy is None:
            proxy = await self._all_dead(request)
        key = proxy_key(proxy)
        request.meta["proxy"] = key
        request.meta["download_slot"] = key
        request.meta["_rotating_proxy"] = True
        request.meta[GENERATION_META] = self.proxies.generation[proxy]
        auth = self.auth_headers.get(key)
        if auth:
            request.headers["Proxy-Authorization"] = auth
            request.meta["_auth_proxy"] = key
        else:
            request.headers.pop("Proxy-Authorization", None)
            request.meta.pop("_auth_proxy", None)

    async def _all_dead(self, request: Request) -> str | None:
        """Wait for the first dead proxy to come back, or close the spider; None if still none."""
        self.stats.inc_value("proxies/all_dead")
        engine = self.crawler.engine
        if self.all_dead == "close":
            if engine is not None and engine.running and self._closing is None:
                logger.error(
                    "Every proxy is dead: closing the spider (ROTATING_PROXY_ALL_DEAD=close)"
                )
                self._closing = deferred_from_coro(
                    engine.close_spider_async(reason="all_proxies_dead")
                )
            self._drop(request)
        due = self.proxies.next_return() or time.time()
        if not self._warned_all_dead:
            self._warned_all_dead = True
            logger.warning(
                "Every proxy is dead: waiting %.0fs for the first to come back",
                max(0.0, due - time.time()),
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

    def _drop(self, request: Request) -> None:
        """Give up on ``request`` for want of a proxy: written down once, then dropped as such."""
        Failures.for_crawler(self.crawler).record_request(request, "all_proxies_dead")
        self.stats.inc_value("proxies/dropped")
        raise RequestRecorded("all proxies are dead")

    def process_exception(self, request: Request, exception: Exception) -> Request | None:  # type: ignore[override]
        return self._handle_result(request)

    def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        return self._handle_result(request) or response

    def _handle_result(self, request: Request) -> Request | None:  # type: ignore[override]
        proxy = self.proxies.get_proxy(request.meta.get("proxy"))
        if not (proxy and request.meta.get("_rotating_proxy")):
            if request.meta.get("_ban"):
                self._count_ban(request)  # a proxy the spider chose: no pool, no outages
            return None
        ban = request.meta.get("_ban")
        if ban is True:
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

    def _retry(self, request: Request) -> Request | None:  # type: ignore[override]
        tries = request.meta.get("proxy_retry_times", 0) + 1
        if tries > request.meta.get("max_proxies_to_try", self.max_proxies_to_try):
            logger.debug("%s banned on %d proxies: a page failure now", request, tries)
            return None
        retry_request = request.copy()
        retry_request.meta["proxy_retry_times"] = tries
        retry_request.meta.pop("_ban", None)
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


def _basic_auth(proxy: str) -> bytes:
    parts = urlsplit(proxy)
    user_pass = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    return b"Basic " + base64.b64encode(user_pass.encode("latin-1"))
