"""Holds retry requests outside the downloader until their backoff is over.

Why not ``await asyncio.sleep()`` in the middleware: ``Downloader.fetch``
keeps a request in ``downloader.active`` for the whole middleware chain, so a
sleeping retry would hold one of the CONCURRENT_REQUESTS slots; sixteen of
them would stall the crawl.

Instead the retry middleware returns the retry request with
``request.meta["backoff_not_before"]`` (a wall-clock time). The engine hands
it to the scheduler through ``engine.crawl``; our ``request_scheduled``
handler takes it aside (raising IgnoreRequest there drops it from scheduling
silently, without any errback), and a reactor timer gives it back to
``engine.crawl`` when it is due. While requests wait, ``spider_idle`` raises
DontCloseSpider so the crawl does not end under them. This works with any
scheduler (Scrapy's, scrapy-redis).

The site pacer (``booksscraper/pacing/pacer.py``) holds requests here too, marked
``request.meta["held_by"] = "pacer"``; ``count(owner)`` says how many of each
owner wait now (the downloader counts the pacer's against CONCURRENT_REQUESTS).

On close (a ``CLOSESPIDER_*`` limit, Ctrl-C), requests still waiting were never
sent: the ledger counts them "not attempted" (``ledger/not_attempted``), not failed,
and ``retry/backoff/closed_while_waiting``; a resumed crawl (``JOBDIR``) fetches them
again, as it does every page whose book was not exported (``booksscraper.output.resume``).

Stats: ``retry/backoff/waiting`` (requests held now; the progress bar's "in
backoff") and ``retry/backoff/max_waiting``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
from twisted.internet.base import DelayedCall

from booksscraper.compat import engine_closing
from booksscraper.ledger.book_ledger import Ledger
from booksscraper.records.shared import shared

logger = logging.getLogger(__name__)

NOT_BEFORE = "backoff_not_before"
WAITING = "retry/backoff/waiting"
CLOSED_WHILE_WAITING = "retry/backoff/closed_while_waiting"
HELD_BY = "held_by"  # who holds a request: "retry" unless the meta says otherwise


class DelayedRequests:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.waiting: dict[Request, DelayedCall] = {}
        self.counts: Counter[str] = Counter()
        crawler.signals.connect(self._request_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(self._spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(self._spider_closed, signal=signals.spider_closed)

    @classmethod
    def for_crawler(cls, crawler: Crawler) -> DelayedRequests:
        return shared(crawler, cls, "_booksscraper_delayed")

    def __len__(self) -> int:
        return len(self.waiting)

    def count(self, owner: str) -> int:
        """Requests of ``owner`` ("retry", "pacer") waiting now."""
        return self.counts[owner]

    def _hold(self, request: Request, delay: float) -> None:
        if request not in self.waiting:
            self.counts[request.meta.get(HELD_BY, "retry")] += 1
        # Imported when first needed: importing it installs Twisted's default reactor.
        from twisted.internet import reactor

        self.waiting[request] = reactor.callLater(delay, self._release, request)  # type: ignore[attr-defined]
        self.crawler.stats.max_value("retry/backoff/max_waiting", len(self.waiting))
        self.crawler.stats.set_value(WAITING, len(self.waiting))

    def forget(self, request: Request) -> None:
        """Stop holding ``request`` (it went elsewhere, e.g. back to the cluster queue)."""
        call = self.waiting.pop(request, None)
        if call is None:
            return
        self.counts[request.meta.get(HELD_BY, "retry")] -= 1
        if call.active():
            call.cancel()

    def release_now(self, request: Request) -> None:
        """Give a waiting request back to the engine before its time (the pacer: a slot freed)."""
        call = self.waiting.get(request)
        if call is not None and call.active():
            call.cancel()
            self._release(request)

    def _release(self, request: Request) -> None:
        engine = self.crawler.engine
        if engine_closing(engine):
            return  # the crawl is closing: _spider_closed records it
        if engine is None or not engine.running:
            return
        self.forget(request)
        self.crawler.stats.set_value(WAITING, len(self.waiting))
        engine.crawl(request)

    def _request_scheduled(self, request: Request, spider: Any) -> None:
        delay = request.meta.get(NOT_BEFORE, 0) - time.time()
        if delay > 0 and request not in self.waiting:
            self._hold(request, delay)
            raise IgnoreRequest("held until its backoff is over")

    def _spider_idle(self) -> None:
        if self.waiting:
            raise DontCloseSpider

    def _spider_closed(self, reason: str) -> None:
        if not self.waiting:
            return
        requests = list(self.waiting)
        for request in requests:
            self.forget(request)
        self.crawler.stats.set_value(WAITING, 0)
        # Never sent again: not attempted (the ledger), not failed. A user's stop is a success.
        ledger = Ledger.of(self.crawler)
        if ledger is not None:
            ledger.not_attempted(requests)
        self.crawler.stats.inc_value(CLOSED_WHILE_WAITING, len(requests))
        logger.info("Spider closed (%s) with %d requests still waiting (retries, paced): "
                    "not attempted", reason, len(requests))
