"""Validation pipeline: invalid items go to the rejects file, never to export.

Rules are in ``booksscraper.extraction.validation``. A rejected item is written with its
URL and every reason (``REJECTS_FILE``), counted under
``validation/rejected`` and ``validation/rejected/<reason>``, and dropped.
Validation never crashes the crawl: an error in a rule rejects the item with
``validator_error``.

For the field-coverage monitor (``booksscraper/monitoring/monitors.py``) it counts every
item it checks (``validation/checked``) and, per field, the items where it is
missing or invalid (``validation/field_invalid/<field>``).

Settings: none of its own; URLs must be on the spider's site (its
``site_host`` attribute, taken from ``start_url``).

Each item is checked once: the spider checks a book page's item to decide whether to fetch
the page again, and marks the valid ones it yields (``Checked``); this pipeline does not
check those again.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from booksscraper.extraction.validation import item_problems, problem_field
from booksscraper.monitoring.monitors import FIELD_INVALID, VALIDATED
from booksscraper.records.rejects import Rejects
from booksscraper.records.shared import shared

logger = logging.getLogger(__name__)


class Checked:
    """Items found valid before this pipeline (by the spider), one crawl's, held weakly."""

    def __init__(self, crawler: Crawler) -> None:
        self._items: dict[int, weakref.ref[Any]] = {}

    @classmethod
    def for_crawler(cls, crawler: Crawler) -> Checked:
        return shared(crawler, cls, "_booksscraper_checked_items")

    def add(self, item: Any) -> None:
        key = id(item)
        self._items[key] = weakref.ref(item, lambda _ref: self._items.pop(key, None))

    def take(self, item: Any) -> bool:
        """Whether ``item`` was found valid already (asked once: the mark goes)."""
        ref = self._items.pop(id(item), None)
        return ref is not None and ref() is item


class ValidationPipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.rejects = Rejects.for_crawler(crawler)
        self.checked = Checked.for_crawler(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidationPipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        stats = self.crawler.stats
        stats.inc_value(VALIDATED)
        if self.checked.take(item):  # found valid by the spider: nothing more to look at
            stats.inc_value("validation/passed")
            return item
        adapter = ItemAdapter(item)
        site_host = getattr(self.crawler.spider, "site_host", None)
        try:
            problems = item_problems(adapter, site_host)
        except Exception as exc:  # a rule must not take the crawl down
            logger.exception("validation failed on %s", adapter.get("url"))
            problems = [f"validator_error: {type(exc).__name__}"]
        for field in sorted({problem_field(problem) for problem in problems} - {None}):
            stats.inc_value(FIELD_INVALID + field)
        if problems:
            self.rejects.reject(item, problems, stage="validation")
            raise DropItem(f"invalid item {adapter.get('url')}: {', '.join(problems)}")
        stats.inc_value("validation/passed")
        return item
