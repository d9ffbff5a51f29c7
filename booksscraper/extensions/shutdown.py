"""A requested stop (Ctrl-C, SIGTERM, scrapyd's cancel) ends within seconds.

Scrapy's graceful stop waits for every download in progress, and a hung server
holds each one for DOWNLOAD_TIMEOUT (30 s; a retry queued behind it, 30 s more).
Once a stop is asked for (``crawler.crawling`` turns False), downloads get
``SHUTDOWN_GRACE`` seconds to end; then every outgoing connection is aborted, and
aborted again every half second until the spider has closed. What they were
fetching goes to the failures file like any download error that was not retried
in time (and a resumed crawl fetches it again).

Setting: ``SHUTDOWN_GRACE``: seconds in-flight downloads get after a stop
is requested.
"""

from __future__ import annotations

import logging
import time

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.utils.asyncio import create_looping_call

from booksscraper.compat import abort_client_connections
from booksscraper.config.readers import number

logger = logging.getLogger(__name__)

CHECK_INTERVAL = 0.5


class FastShutdown:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.grace = number(crawler.settings, "SHUTDOWN_GRACE")
        self.stop_asked_at: float | None = None
        self.task = create_looping_call(self.check)
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FastShutdown:
        return cls(crawler)

    def spider_opened(self) -> None:
        self.task.start(CHECK_INTERVAL, now=False)

    def spider_closed(self) -> None:
        if self.task.running:
            self.task.stop()

    def check(self) -> None:
        if self.crawler.crawling:
            return
        now = time.monotonic()
        if self.stop_asked_at is None:
            self.stop_asked_at = now
        if now - self.stop_asked_at < self.grace:
            return
        from twisted.internet import reactor

        aborted = abort_client_connections(reactor)  # type: ignore[arg-type]
        if aborted:
            self.crawler.stats.inc_value("shutdown/connections_aborted", aborted)
            logger.info("Stopping: aborted %d downloads still in progress", aborted)
