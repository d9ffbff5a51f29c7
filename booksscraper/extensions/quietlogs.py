"""A robots.txt that could not be downloaded is logged in one line, not a traceback.

Scrapy's ``RobotsTxtMiddleware`` logs any error downloading robots.txt with
its traceback: ~150 lines for a refused connection, between our retry
middleware's one-line give-up and the crawl's one-line error. For download
errors we know (timeouts, refused connections, DNS, lost connections: the
reasons ``failure_reason`` names) this filter drops the traceback from that
one logger; the message still names the exception. Anything unexpected keeps
its traceback. No settings; on in the add-on.
"""

from __future__ import annotations

import logging

from scrapy import signals
from scrapy.crawler import Crawler

from booksscraper.compat import ROBOTS_LOGGER
from booksscraper.middlewares.backoff import failure_reason


class _DownloadErrorsInOneLine(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and failure_reason(exc) != type(exc).__name__:
            record.exc_info = None
            record.exc_text = None
        return True


class QuietRobotsErrors:
    def __init__(self, crawler: Crawler) -> None:
        self.filter = _DownloadErrorsInOneLine()
        logging.getLogger(ROBOTS_LOGGER).addFilter(self.filter)
        crawler.signals.connect(self.engine_stopped, signal=signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> QuietRobotsErrors:
        return cls(crawler)

    def engine_stopped(self) -> None:
        logging.getLogger(ROBOTS_LOGGER).removeFilter(self.filter)
