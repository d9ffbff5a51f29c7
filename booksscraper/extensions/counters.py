"""The crawl's progress counters, read from Scrapy stats in one place.

The resource monitor writes them into every sample (so the report can plot
throughput over time) and the progress display shows them; both must agree on
what "errors" or "retries" mean, hence one function.

- ``pages``: responses received (``response_received_count``).
- ``discovered``: requests ever enqueued (``scheduler/enqueued``; retries
  count again, as they are pages to fetch again).
- ``items``: items exported (``item_scraped_count``).
- ``errors``: log records at ERROR (``log_count/ERROR``): requests given up
  after retries, spider and pipeline exceptions, i.e. what someone must look at.
- ``retries``: ``retry/count``.
- ``response_bytes``: ``downloader/response_bytes`` (the crawl's own traffic).
- ``backoff_waiting``: ``retry/backoff/waiting`` when the retry middleware
  exposes it (requests sleeping out a backoff), else ``None``.
- ``proxies_good`` / ``proxies_dead`` / ``proxies_unchecked``: ``proxies/good``,
  ``proxies/dead``, ``proxies/unchecked`` from the proxy rotation middleware
  (scrapy-rotating-proxies) when proxies are used, else ``None``.
"""

from __future__ import annotations

from typing import Any

from scrapy.statscollectors import StatsCollector

_COUNTERS = {
    "pages": "response_received_count",
    "discovered": "scheduler/enqueued",
    "items": "item_scraped_count",
    "errors": "log_count/ERROR",
    "retries": "retry/count",
    "response_bytes": "downloader/response_bytes",
}
# Stats that only exist when the component that sets them is in use.
_OPTIONAL = {
    "backoff_waiting": "retry/backoff/waiting",
    "proxies_good": "proxies/good",
    "proxies_dead": "proxies/dead",
    "proxies_unchecked": "proxies/unchecked",
}


def crawl_counters(stats: StatsCollector) -> dict[str, Any]:
    """The counters above, as of now."""
    counters: dict[str, Any] = {name: stats.get_value(key, 0) for name, key in _COUNTERS.items()}
    counters.update({name: stats.get_value(key) for name, key in _OPTIONAL.items()})
    return counters
