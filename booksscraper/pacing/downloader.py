"""Scrapy's downloader with per-slot concurrency enforced during bursts, and paced requests counted.

The fix of Scrapy's burst behaviour overrides private methods, so it lives in
``booksscraper.compat`` (``PerSlotLimitDownloader``; docs/upstream-per-slot-concurrency.md
reports it to Scrapy). This subclass, which the add-on sets as ``DOWNLOADER``, adds
what pacing needs: the requests the site pacer holds outside the downloader
(``booksscraper/pacing/pacer.py``) count against CONCURRENT_REQUESTS when the engine asks
whether to take more from the scheduler (they wait outside, yet a paced crawl must
not drain its queue, or a cluster's, into memory); and the stat
``downloader/slot_wait_max`` is the longest a request waited in a download slot's
queue (reached the downloader, not yet sent): the proof that pacing waits happen
outside.
"""

from __future__ import annotations

from scrapy import Request
from scrapy.core.downloader import Slot
from scrapy.crawler import Crawler

from booksscraper import compat
from booksscraper.pacing.holder import DelayedRequests
from booksscraper.pacing.pacer import OWNER as PACER


class PerSlotLimitDownloader(compat.PerSlotLimitDownloader):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.delayed = DelayedRequests.for_crawler(crawler)

    def needs_backout(self) -> bool:  # asked by the engine at every turn of its loop
        return 0 < self.total_concurrency <= len(self.active) + self.delayed.count(PACER)

    def popped(self, slot: Slot, request: Request, waited: float) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.max_value("downloader/slot_wait_max", round(waited, 3))
