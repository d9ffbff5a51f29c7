"""Scrapy's downloader with per-slot concurrency enforced during bursts.

Scrapy 2.19 under the asyncio reactor: ``Downloader._process_queue`` pops
requests while ``slot.free_transfer_slots() > 0``, but each popped request is
only added to ``slot.transferring`` when its download task starts, on a later
loop turn. A burst therefore drains the whole slot queue at once: with
``CONCURRENT_REQUESTS=64`` and ``CONCURRENT_REQUESTS_PER_DOMAIN=4`` the server
saw 60 requests in flight. This subclass counts a request as transferring
when it is popped. The add-on sets ``DOWNLOADER`` to it.

It also counts the requests the site pacer holds outside the downloader
(``booksscraper/pacing.py``) against CONCURRENT_REQUESTS when the engine asks
whether to take more from the scheduler: they wait outside, yet a paced crawl
must not drain its queue (or a cluster's) into memory. The stat
``downloader/slot_wait_max`` is the longest a request waited in a download
slot's queue (reached the downloader, not yet sent): the proof that pacing
waits happen outside.
"""

from __future__ import annotations

from time import monotonic

from scrapy import Request
from scrapy.core.downloader import Downloader, Slot
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import _schedule_coro

from booksscraper.middlewares.delayed import DelayedRequests
from booksscraper.pacing import OWNER as PACER


class PerSlotLimitDownloader(Downloader):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._entered: dict[Request, float] = {}  # request -> when it reached the downloader

    async def _enqueue_request(self, request: Request) -> Response:
        self._entered[request] = monotonic()
        try:
            return await super()._enqueue_request(request)
        finally:
            self._entered.pop(request, None)

    def needs_backout(self) -> bool:
        held = DelayedRequests.for_crawler(self.crawler).count(PACER)
        return 0 < self.total_concurrency <= len(self.active) + held

    def _process_queue(self, slot: Slot) -> None:
        # Scrapy 2.19's method, but for the marked line.
        if slot.latercall:
            return
        now = monotonic()
        delay = slot.download_delay()
        if delay:
            penalty = delay - now + slot.lastseen
            if penalty > 0:
                slot.latercall = call_later(penalty, self._latercall, slot)
                return
        while slot.queue and slot.free_transfer_slots() > 0:
            slot.lastseen = now
            request, queue_dfd = slot.queue.popleft()
            entered = self._entered.get(request)
            if entered is not None and self.crawler.stats is not None:
                self.crawler.stats.max_value("downloader/slot_wait_max", round(now - entered, 3))
            slot.transferring.add(request)  # the fix: taken now, not when the task starts
            _schedule_coro(self._wait_for_download(slot, request, queue_dfd))
            if delay:
                self._process_queue(slot)
                break
