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
"""

from __future__ import annotations

import logging
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from booksscraper.extraction.validation import item_problems, problem_field
from booksscraper.monitoring.monitors import FIELD_INVALID, VALIDATED
from booksscraper.records.rejects import Rejects

logger = logging.getLogger(__name__)


class ValidationPipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.rejects = Rejects.for_crawler(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidationPipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        site_host = getattr(self.crawler.spider, "site_host", None)
        try:
            problems = item_problems(adapter, site_host)
        except Exception as exc:  # a rule must not take the crawl down
            logger.exception("validation failed on %s", adapter.get("url"))
            problems = [f"validator_error: {type(exc).__name__}"]
        self.crawler.stats.inc_value(VALIDATED)
        for field in sorted({problem_field(problem) for problem in problems} - {None}):
            self.crawler.stats.inc_value(FIELD_INVALID + field)
        if problems:
            self.rejects.reject(item, problems, stage="validation")
            raise DropItem(f"invalid item {adapter.get('url')}: {', '.join(problems)}")
        self.crawler.stats.inc_value("validation/passed")
        return item
