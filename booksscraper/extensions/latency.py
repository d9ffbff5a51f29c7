"""Download latency of every response, as a histogram and percentiles in stats.

Reads ``response.meta["download_latency"]`` (set by Scrapy's download
handler: seconds from sending the request to the whole body received) on each
``response_received`` and counts it in a fixed log-scale histogram, so the
report can draw the distribution from ``stats.json`` alone.

Stats: ``latency/count``, ``latency/p50_ms``, ``latency/p90_ms``,
``latency/p99_ms``, ``latency/max_ms`` (set at close) and
``latency/histogram_ms/<upper bound>`` (responses up to that many
milliseconds and above the previous bound; ``inf`` for the rest).

No settings; switched off like any extension (``EXTENSIONS``, ``None``).
"""

from __future__ import annotations

import bisect
from array import array

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.http import Response

# Upper bounds (ms), six a decade (about x1.5 each) from "local" to "a hung
# connection": fine enough to show the shape of the distribution, and only
# non-empty buckets become stats keys.
BUCKETS_MS = (
    *(step * 10**decade for decade in range(5) for step in (1, 1.5, 2, 3, 5, 7)),
    100_000,
)


def bucket_label(latency_ms: float) -> str:
    index = bisect.bisect_left(BUCKETS_MS, latency_ms)
    return f"{BUCKETS_MS[index]:g}" if index < len(BUCKETS_MS) else "inf"


class LatencyStats:
    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats
        # 4 bytes a response: a million pages cost 4 MB for exact percentiles.
        self._latencies_ms = array("f")
        crawler.signals.connect(self.response_received, signal=signals.response_received)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LatencyStats:
        return cls(crawler)

    def response_received(self, response: Response) -> None:
        latency = response.meta.get("download_latency") if response.request else None
        if latency is None:  # e.g. a cached response: nothing was downloaded
            return
        latency_ms = latency * 1000
        self._latencies_ms.append(latency_ms)
        self.stats.inc_value("latency/count")
        self.stats.inc_value(f"latency/histogram_ms/{bucket_label(latency_ms)}")

    def spider_closed(self) -> None:
        values = self._latencies_ms
        if not values:
            return
        if len(values) >= 2:
            import statistics  # at close only

            cuts = statistics.quantiles(values, n=100, method="inclusive")
            p50, p90, p99 = cuts[49], cuts[89], cuts[98]
        else:
            p50 = p90 = p99 = values[0]
        self.stats.set_value("latency/p50_ms", round(p50, 1))
        self.stats.set_value("latency/p90_ms", round(p90, 1))
        self.stats.set_value("latency/p99_ms", round(p99, 1))
        self.stats.set_value("latency/max_ms", round(max(values), 1))
