"""The circuit breaker: a crawl of a site that changed stops early, with one line.

When the site's layout changes (the price element renamed on every book page), each
page fails extraction for the same field; fetching the whole catalogue three times
to learn it at the end helps nobody. Two triggers, both stop the crawl with close
reason ``site_changed`` (exit status 3, ``commands/crawl.py``) and one WARNING line
naming the field and a sample URL:

- ``FirstPages``: the first ``MONITOR_BREAKER_PAGES`` distinct book pages all fail on
  one field (fed by ``booksscraper.ledger.book_ledger``);
- the periodic reject rate (``extensions/crawlmonitors.py``): books rejected over books
  settled in a window, above ``MONITOR_BREAKER_REJECT_RATE``.
"""

from __future__ import annotations

import logging
from collections import Counter

from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro

from booksscraper.extraction.validation import problem_field
from booksscraper.monitoring.monitors import Check

logger = logging.getLogger(__name__)

SITE_CHANGED = "site_changed"  # the close reason
BREAKER = "monitors/breaker"  # the check that tripped it, as a dict


class FirstPages:
    """The problems of the first ``size`` book pages: a field all of them fail on."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.fields: Counter[str] = Counter()
        self.seen = 0
        self.sample: dict[str, str] = {}

    def add(self, url: str, problems: list[str]) -> str | None:
        """Count one page; the field every one of the first ``size`` pages failed on, once."""
        if not self.size or self.seen >= self.size:
            return None
        self.seen += 1
        # In the order of the problems (the item's fields): ties name the first field.
        for field in dict.fromkeys(problem_field(p) for p in problems):
            if field is not None:
                self.fields[field] += 1
                self.sample.setdefault(field, url)
        if self.seen < self.size:
            return None
        common = [field for field, count in self.fields.most_common() if count == self.size]
        return common[0] if common else None


def trip(crawler: Crawler, message: str, figure: object, threshold: object) -> None:
    """Stop the crawl as a changed site (once): the check in stats, one WARNING line."""
    assert crawler.stats is not None and crawler.engine is not None
    if crawler.stats.get_value(BREAKER):
        return
    check = Check(SITE_CHANGED, False, figure, threshold, message)
    crawler.stats.set_value(BREAKER, check.as_dict())
    logger.warning("Monitor failed: %s: %s", SITE_CHANGED, message)
    deferred_from_coro(crawler.engine.close_spider_async(reason=SITE_CHANGED))
