"""The crawl's progress counters, read from Scrapy stats in one place.

The resource monitor writes them into every sample (so the report can plot
throughput over time) and the progress display shows them; both must agree on
what "errors" or "retries" mean, hence one function.

- ``pages``: responses downloaded for pages (``downloader/response_count``, a
  503 that is retried included) less robots.txt (``robotstxt/response_count``),
  which is fetched outside the scheduler. A request that got no response (a
  connection reset, a page robots.txt forbids) is not counted: a crawl without
  such errors ends at ``N/N``, one with them short of it by their number.
- ``discovered``: requests ever enqueued (``scheduler/enqueued``; retries and
  redirects count again, as they are pages to fetch again) less the second
  pass of requests the site pacer handed back to wait (``pacing/returned``).
- ``items``: items exported (``item_scraped_count``).
- ``books_announced`` / ``books_done`` / ``pages_implied``: from the ledger
  (``booksscraper.ledger.figures``): books the site announced (None until known), books
  settled (exported, rejected, failed, duplicates), and the pages that implies (a page
  per book, and the listing pages).
- ``errors``: log records at ERROR (``log_count/ERROR``): requests given up
  after retries, spider and pipeline exceptions, i.e. what someone must look at.
- ``retries``: ``retry/count``.
- ``response_bytes``: ``downloader/response_bytes`` (the crawl's own traffic).
- ``backoff_waiting``: ``retry/backoff/waiting`` (retries held out of the
  downloader until their backoff is over, written by ``pacing/holder.py``)
  once a retry has been held, else ``None``.
- ``proxies_good`` / ``proxies_dead`` / ``proxies_unchecked``: ``proxies/good``,
  ``proxies/dead``, ``proxies/unchecked`` from the proxy rotation middleware
  (scrapy-rotating-proxies) when proxies are used, else ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scrapy.statscollectors import StatsCollector

from booksscraper.ledger.figures import figures, pages_implied, settled
from booksscraper.pacing.holder import WAITING
from booksscraper.pacing.pacer import RETURNED

ROBOTS_RESPONSES = "robotstxt/response_count"
_COUNTERS = {
    "items": "item_scraped_count",
    "errors": "log_count/ERROR",
    "retries": "retry/count",
    "response_bytes": "downloader/response_bytes",
}
# Stats that only exist when the component that sets them is in use.
_OPTIONAL = {
    "backoff_waiting": WAITING,
    "proxies_good": "proxies/good",
    "proxies_dead": "proxies/dead",
    "proxies_unchecked": "proxies/unchecked",
}


def pages_received(stats: Mapping[str, Any]) -> int:
    """Responses downloaded for pages, robots.txt not counted."""
    return int(stats.get("downloader/response_count", 0)) - int(stats.get(ROBOTS_RESPONSES, 0))


def pages_discovered(stats: Mapping[str, Any]) -> int:
    """Pages to fetch so far: requests enqueued, a paced request's second pass not counted."""
    return int(stats.get("scheduler/enqueued", 0)) - int(stats.get(RETURNED, 0))


def crawl_counters(stats: StatsCollector) -> dict[str, Any]:
    """The counters above, as of now."""
    values = stats.get_stats()
    counters: dict[str, Any] = {
        "pages": pages_received(values), "discovered": pages_discovered(values),
    }
    counters.update({name: values.get(key, 0) for name, key in _COUNTERS.items()})
    ledger = figures(values)
    counters.update(books_announced=ledger["announced"], pages_implied=pages_implied(ledger),
                    books_done=settled(ledger))
    counters.update({name: values.get(key) for name, key in _OPTIONAL.items()})
    return counters
