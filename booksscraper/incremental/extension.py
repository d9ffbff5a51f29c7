"""``IncrementalCrawl``: finds the state of the crawl's scope, compares at the end of the crawl.

A single-process crawl compares its own books with its scope's state
(``booksscraper.incremental.state``) and advances the state when it finished. A damaged
state is one WARNING naming the file; that run reports no changes (never a false "new" or
"removed"), says so in ``changes/summary`` and ``changes/state_damaged``, and, if it
finished, writes a fresh state. A cluster worker (``REDIS_URL``) sees part of the
catalogue: it writes what the comparison at the merge step needs
(``booksscraper.incremental.cluster``) and compares nothing itself.
"""

from __future__ import annotations

import logging
from itertools import chain

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from booksscraper.cluster.mode import is_cluster
from booksscraper.incremental import cluster
from booksscraper.incremental.changes import SUMMARY_STAT, compare, failed_urls, unseen_verdict
from booksscraper.incremental.state import (
    STATE_BOOKS,
    DamagedState,
    enabled,
    load_run,
    state_dir,
    write_state,
)
from booksscraper.ledger.figures import LISTINGS_LOST
from booksscraper.output.errors import OutputError, stop_on_output_error
from booksscraper.output.folder import output_path
from booksscraper.output.jsonlines import iter_json_lines

logger = logging.getLogger(__name__)

DAMAGED_STAT = "changes/state_damaged"


class IncrementalCrawl:
    """Reads the scope's state at start-up; compares and writes the change report at the end."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.changes_path = output_path(crawler.settings, "CHANGES_FILE")
        self.start_url = getattr(crawler.spider, "start_url", None)
        self.state = state_dir(crawler)
        self.damaged: DamagedState | None = None
        try:
            self.previous_run = load_run(self.state)
        except DamagedState as exc:
            logger.warning("incremental: damaged state %s: this run reports no changes and, "
                           "if it finishes, writes a fresh state", exc)
            self.damaged, self.previous_run = exc, None
        if self.previous_run is not None:
            logger.info("incremental: comparing with the state in %s", self.state)
        crawler.signals.connect(self.engine_stopped, signal=signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IncrementalCrawl | cluster.ClusterWorker:
        settings = crawler.settings
        if not enabled(settings):
            # No comparison this run; the state is left as it is.
            cluster.worker_file(settings).unlink(missing_ok=True)
            raise NotConfigured
        if is_cluster(settings):
            return cluster.ClusterWorker(crawler)
        return cls(crawler)

    def engine_stopped(self) -> None:
        stats = self.crawler.stats
        finished = stats.get_value("finish_reason") == "finished"
        try:
            if self.previous_run is None:
                if self.damaged is not None:
                    summary = f"not compared: damaged state {self.damaged}"
                    stats.set_value(DAMAGED_STAT, str(self.damaged.path))
                    stats.set_value(SUMMARY_STAT, summary)
                    logger.info("Changes since the last run: %s", summary)
                if finished:
                    logger.info("incremental: no previous run to compare with; this run's books "
                                "are the state the next run compares with (%s)", self.state)
                    write_state(self.state, self._books(), self.start_url)
                return
            self._compare(finished)
        except OutputError as exc:
            stop_on_output_error(self.crawler, exc)

    def _books(self):
        return iter_json_lines(output_path(self.crawler.settings, "OUTPUT_JSONL"))

    def _compare(self, finished: bool) -> None:
        settings, stats = self.crawler.settings, self.crawler.stats
        failed = failed_urls([(output_path(settings, "FAILURES_FILE"),
                               output_path(settings, "REJECTS_FILE"))])
        listed = getattr(self.crawler.spider, "listed", None)
        sure = finished and listed is not None and not stats.get_value(LISTINGS_LOST)
        result = compare(iter_json_lines(self.state / STATE_BOOKS), self._books(),
                         unseen_verdict(failed, listed, sure))
        result.write(self.changes_path)
        for key, value in result.stats().items():
            stats.set_value(key, value)
        logger.info("Changes since the last run: %s -> %s", result.summary, self.changes_path)
        if finished:  # the carried-over books keep their last known values
            write_state(self.state, chain(self._books(), result.carried), self.start_url)
