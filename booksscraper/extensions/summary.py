"""At the end of a crawl: the final stats as JSON, and a one-line summary at INFO.

``Crawl summary (finished): 997 books exported of 1000 announced, 3 rejected,
0 failed, 0 duplicates, 0 not attempted, 0 unaccounted; 0 requests given up,
9 bad copies fetched again; 1052 pages, 12 retries, 0 bans, peak RSS 96 MiB, 41.2 s``

Both happen on ``engine_stopped``, after Scrapy's stats collector has closed,
so every component's close-time stats (finish reason, latency percentiles,
export counts) are in; the stats file is also written on ``spider_closed``
first. ``STATS_FILE`` is how other tools (the report, a scheduler, CI) get the
numbers; it is written atomically (temp file + rename).

Settings (defaults in brackets):

- ``STATS_FILE``: in ``OUTPUT_DIR``; the final stats, keys sorted.
- ``REPORT_ON_CLOSE``: also build the Markdown report with charts
  (``python -m booksscraper.report OUTPUT_DIR``) when the crawl ends; off by
  default because matplotlib adds a few seconds to every crawl.

Summary terms: the books are the ledger's (``booksscraper.ledger.figures``: the same
``ledger/...`` stats the monitors and the report read); pages = responses for pages,
robots.txt not counted (see ``counters.py``); bans =
sum of the ``bans/...`` counters, which the proxy middleware counts once per
death of a proxy (one outage is one ban, however many requests were in flight
through it).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler

from booksscraper.config.readers import boolean
from booksscraper.extensions.counters import pages_received
from booksscraper.ledger.figures import describe, figures, kept
from booksscraper.output.errors import OutputError, stop_on_output_error, stopping_on_output_error
from booksscraper.output.folder import OutputFolder, output_path
from booksscraper.output.jsonlines import dumps, replace_atomically

logger = logging.getLogger(__name__)




def summary_numbers(stats: dict[str, Any]) -> dict[str, Any]:
    """The figures of the close summary, from a stats dict: the ledger's, and the crawl's."""
    bans = sum(
        value for key, value in stats.items() if key.startswith("bans/") and isinstance(value, int)
    )
    return {
        **figures(stats),
        "reason": stats.get("finish_reason", "unknown"),
        "items": stats.get("item_scraped_count", 0),
        "pages": pages_received(stats),
        "retries": stats.get("retry/count", 0),
        "bans": bans,
        "rss_peak_bytes": stats.get("monitor/rss_peak_bytes") or stats.get("memusage/max"),
        "seconds": stats.get("elapsed_time_seconds"),
    }


def format_summary(numbers: dict[str, Any]) -> str:
    rss = numbers["rss_peak_bytes"]
    seconds = numbers["seconds"]
    return (
        f"Crawl summary ({numbers['reason']}): "
        f"{describe(numbers) if kept(numbers) else str(numbers['items']) + ' items'}; "
        f"{numbers['pages']} pages, {numbers['retries']} retries, {numbers['bans']} bans, "
        f"peak RSS {f'{rss / 2**20:.0f} MiB' if rss else '?'}, "
        f"{f'{seconds:.1f} s' if seconds is not None else '?'}"
    )


def write_stats(stats: dict[str, Any], path: os.PathLike[str] | str) -> None:
    """``stats`` as indented JSON (datetimes ISO 8601), replacing ``path`` atomically."""
    text = json.dumps(json.loads(dumps(stats)), indent=2, sort_keys=True, ensure_ascii=False)
    replace_atomically(path, lambda f: f.write(text + "\n"))


class CrawlSummary:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats_path = output_path(crawler.settings, "STATS_FILE")
        self.output = OutputFolder.for_crawler(crawler)
        self.report_on_close = boolean(crawler.settings, "REPORT_ON_CLOSE")
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.engine_stopped, signal=signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlSummary:
        return cls(crawler)

    def spider_closed(self) -> None:
        # A first copy, in case engine_stopped never comes (a spider closed
        # while the engine was starting, scrapy/scrapy#6916).
        with stopping_on_output_error(self.crawler):
            self._write_stats(self.crawler.stats.get_stats())

    def _write_stats(self, stats: dict[str, Any]) -> bool:
        """Write ``STATS_FILE`` (this crawl's output started first); False if output is off."""
        if not self.output.enabled:
            return False
        self.output.start()
        write_stats(stats, self.stats_path)
        return True

    def engine_stopped(self) -> None:
        stats = self.crawler.stats.get_stats()
        logger.info(format_summary(summary_numbers(stats)))
        try:
            if not self._write_stats(stats):
                return
        except OutputError as exc:
            stop_on_output_error(self.crawler, exc)
            return
        if self.report_on_close:
            try:
                from booksscraper.report import build_report  # not in the scrapyd egg
            except ImportError as exc:
                logger.warning("No crawl report: %s (REPORT_ON_CLOSE needs the reports "
                               "dependency set and booksscraper.report)", exc)
                return
            try:
                report = build_report(self.stats_path.parent, stats_file=self.stats_path.name)
            except Exception:  # the data is safe on disk; a chart bug must not fail the crawl
                logger.exception("Could not build the crawl report")
            else:
                logger.info("Crawl report: %s", report)
