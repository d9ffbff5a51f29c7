"""``IncrementalCrawl``: hands the state over at start-up, compares at the end of the crawl.

A single-process crawl compares its own books with the state and advances the state when
it finished. A cluster worker (``REDIS_URL``) sees part of the catalogue: it writes what the
comparison at the merge step needs (``booksscraper.incremental.cluster``) and compares
nothing itself.
"""

from __future__ import annotations

import logging
import shutil
from itertools import chain
from pathlib import Path

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from booksscraper.incremental import cluster
from booksscraper.incremental.changes import compare, failed_urls, unseen_verdict
from booksscraper.incremental.state import (
    STATE_BOOKS,
    enabled,
    in_scope,
    on_cluster,
    read_run,
    state_dir,
    take_over,
    write_state,
)
from booksscraper.output.errors import OutputError, stop_on_output_error
from booksscraper.output.folder import output_path
from booksscraper.output.jsonlines import iter_json_lines
from booksscraper.output.resume import CRAWL_STATE
from booksscraper.spiders.books import LISTINGS_LOST

logger = logging.getLogger(__name__)


class IncrementalCrawl:
    """Hands the state over at start-up; compares and writes the change report at the end."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        settings = crawler.settings
        self.state = state_dir(settings)
        self.changes_path = output_path(settings, "CHANGES_FILE")
        self.changes_path.unlink(missing_ok=True)  # it describes the latest run only
        take_over(settings, self.state, getattr(crawler.spider, "jobs_dir", None))
        self.start_url = getattr(crawler.spider, "start_url", None)
        self.previous_run = read_run(self.state)
        if not in_scope(self.state, self.previous_run, self.start_url):
            self.previous_run = None
        crawler.signals.connect(self.engine_stopped, signal=signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IncrementalCrawl | cluster.ClusterWorker:
        settings = crawler.settings
        if not enabled(settings):
            # No comparison this run: a changes file of an earlier run would pass for this one's.
            output_path(settings, "CHANGES_FILE").unlink(missing_ok=True)
            cluster.worker_file(settings).unlink(missing_ok=True)
            raise NotConfigured
        if on_cluster(settings):
            return cluster.ClusterWorker(crawler)
        return cls(crawler)

    def engine_stopped(self) -> None:
        stats = self.crawler.stats
        finished = stats.get_value("finish_reason") == "finished"
        try:
            if self.previous_run is None:
                if finished:
                    logger.info("incremental: no previous run to compare with; this run's books "
                                "are the state the next run compares with")
                    write_state(self.state, self._books(), self.start_url)
                return
            self._compare(finished)
        except OutputError as exc:
            stop_on_output_error(self.crawler, exc)
            return
        jobdir = self.crawler.settings.get("JOBDIR")
        if finished and jobdir:
            # The job is done: the same JOBDIR next time is the next run, not a resume of this one.
            for name in CRAWL_STATE:
                path = Path(jobdir, name)
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)

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
