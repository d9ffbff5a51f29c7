"""The rejects file: every item that is not exported, with the reasons why.

One ``Rejects`` per crawler, shared by every pipeline that may reject an item
(validation, cleanup), so all rejects land in one file (``REJECTS_FILE``) and
are counted under ``<stage>/rejected`` and ``<stage>/rejected/<reason>`` (records,
bad copies fetched again included); the ledger counts the distinct books given up
(``ledger/rejected``). The file
describes the latest run (a resumed crawl fetches every book not yet exported again).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.crawler import Crawler

from booksscraper.ledger.book_ledger import Ledger
from booksscraper.output.errors import stopping_on_output_error
from booksscraper.output.folder import OutputFolder, output_path
from booksscraper.output.jsonlines import JsonLinesWriter
from booksscraper.records.shared import shared


class Rejects:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.path = output_path(crawler.settings, "REJECTS_FILE")
        self._writer = JsonLinesWriter(
            self.path, append=False, output=OutputFolder.for_crawler(crawler)
        )
        crawler.signals.connect(self._close, signal=signals.spider_closed)

    @classmethod
    def for_crawler(cls, crawler: Crawler) -> Rejects:
        return shared(crawler, cls, "_booksscraper_rejects")

    @property
    def count(self) -> int:
        return self._writer.count

    def reject(self, item: Any, reasons: list[str], stage: str, *, given_up: bool = True) -> None:
        """Write ``item`` with its ``reasons`` and count it; never raises on odd items.

        ``given_up``: the book is lost (the ledger's "rejected"); False for a bad copy
        fetched again (the ledger's "refetched").
        """
        data = ItemAdapter(item).asdict() if ItemAdapter.is_item(item) else {"value": repr(item)}
        record = {
            "url": data.get("url"),
            "stage": stage,
            "reasons": reasons,
            "item": data,
            "rejected_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        with stopping_on_output_error(self.crawler):
            self._writer.write(record)
        self.stats.inc_value(f"{stage}/rejected")
        for reason in reasons:
            self.stats.inc_value(f"{stage}/rejected/{reason.split(':', 1)[0]}")
        ledger = Ledger.of(self.crawler)
        if ledger is not None:
            ledger.rejected(item, reasons, given_up=given_up)

    def _close(self) -> None:
        with stopping_on_output_error(self.crawler):
            self._writer.close()
