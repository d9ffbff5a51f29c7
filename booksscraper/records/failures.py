"""The failures file: every request the crawl gave up on, with the reason why.

One ``Failures`` per crawler (``FAILURES_FILE`` under ``OUTPUT_DIR``, JSON
lines: url, reason, attempts, time, proxy with its password masked), so no
page disappears silently. The file describes the latest run: a resumed crawl
(``JOBDIR``) tries every request that failed before again.

Each failed request is written once. ``record_request`` writes it and marks its
meta with ``RECORDED``; a component that then drops the request raises
``RequestRecorded``, so the errback (``booksscraper.records.lost``) knows by the
exception's type that the request is written already.
"""

from __future__ import annotations

from datetime import UTC, datetime

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest

from booksscraper.ledger.book_ledger import Ledger
from booksscraper.ledger.figures import FAILED
from booksscraper.output.errors import stopping_on_output_error
from booksscraper.output.folder import OutputFolder, output_path
from booksscraper.output.jsonlines import JsonLinesWriter
from booksscraper.records.credentials import mask_proxy
from booksscraper.records.shared import shared

# Meta flag of a request whose failure is in the file: nobody writes it a second time.
RECORDED = "failure_recorded"
# The stat of the failures this run recorded: the ledger's "failed" (requests given up).
FAILURES_COUNT = FAILED


class RequestRecorded(IgnoreRequest):
    """Drops a request whose failure is in the failures file already: nothing writes it again."""


def is_recorded(request: Request, exception: BaseException | None = None) -> bool:
    """Whether ``request``'s failure is written already (its meta flag, or the exception's type)."""
    return bool(request.meta.get(RECORDED)) or isinstance(exception, RequestRecorded)


class Failures:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.path = output_path(crawler.settings, "FAILURES_FILE")
        self._writer = JsonLinesWriter(
            self.path, append=False, output=OutputFolder.for_crawler(crawler)
        )
        # engine_stopped, not spider_closed: spider_closed handlers may still record failures.
        crawler.signals.connect(self._close, signal=signals.engine_stopped)

    @classmethod
    def for_crawler(cls, crawler: Crawler) -> Failures:
        return shared(crawler, cls, "_booksscraper_failures")

    @property
    def count(self) -> int:
        return self._writer.count

    def record(self, url: str, reason: str, attempts: int, proxy: str | None = None) -> None:
        record = {
            "url": url,
            "reason": reason,
            "attempts": attempts,
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "proxy": mask_proxy(proxy),
        }
        self.crawler.stats.inc_value(FAILURES_COUNT)
        ledger = Ledger.of(self.crawler)
        if ledger is not None:
            ledger.request_failed(url)
        with stopping_on_output_error(self.crawler):
            self._writer.write(record)

    def record_request(
        self, request: Request, reason: str, attempts: int | None = None, proxy: str | None = None
    ) -> None:
        """Write ``request`` once: a request already recorded is skipped, this one is marked."""
        if request.meta.get(RECORDED):
            return
        request.meta[RECORDED] = True
        if attempts is None:
            attempts = request.meta.get("retry_times", 0) + 1
        self.record(request.url, reason, attempts, proxy)

    def _close(self) -> None:
        with stopping_on_output_error(self.crawler):
            self._writer.close()
