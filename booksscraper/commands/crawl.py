"""`scrapy crawl`, with one-line errors and an honest exit status.

Scrapy's own command prints a traceback for a bad setting and exits 0 when a
crawl stops early. This one (the project's ``COMMANDS_MODULE`` overrides the
built-in) prints ``error: <message>`` on stderr (and logs it, so it is in the
job log under scrapyd) and exits:

- 0 when the crawl finished, or stopped where the user asked it to (a
  ``CLOSESPIDER_*`` limit, Ctrl-C, scrapyd's cancel);
- 1 when it started but did not finish (the start URL failed, a memory cap...)
  or finished without a single book (a cluster worker whose peers took every
  request only says so: ``python -m booksscraper.cluster.merge`` fails a cluster
  crawl without a book);
  It also exits 1 when it could not start for a reason other than its input (a
  traceback is logged: a bug, not bad input);
- 2 when it cannot start because of its input (``BadConfig``: a bad setting,
  spider argument or input file, ``LOG_LEVEL``, ``LOG_FILE``, ``JOBDIR``...);
- 3 when it did its job by the rules above but a monitor failed
  (``booksscraper/monitoring/monitors.py``: too few books against what the site announces,
  a book unaccounted, the circuit breaker's stop of a changed site (``site_changed``),
  a field missing, too many rejects or failures, a stall...); 1 and 4 come first;
- 4 when an output file could not be written (no space, no permission):
  nothing unwritten is marked exported, so the same JOBDIR completes it.

On a terminal the full log goes to ``OUTPUT_DIR/crawl.log`` (``commands.terminal``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError
from scrapy.settings import BaseSettings
from scrapy.utils.conf import build_component_list
from scrapy.utils.misc import load_object
from twisted.internet.defer import Deferred

from booksscraper.cluster.mode import is_cluster
from booksscraper.cluster.mode import redis_url as cluster_redis_url
from booksscraper.commands.terminal import (
    add_terminal_handler,
    finish_log,
    log_to_file,
    quiet_log_file,
)
from booksscraper.commands.usage import UsageWarnings
from booksscraper.config.errors import BadConfig
from booksscraper.config.settings_check import check_declared_types, check_scrapy_numbers
from booksscraper.monitoring.breaker import BREAKER, SITE_CHANGED
from booksscraper.monitoring.monitors import FAILED, RESULTS, describe_failures
from booksscraper.output.errors import OUTPUT_ERROR
from booksscraper.output.folder import settle_output

logger = logging.getLogger(__name__)

EXIT_NOT_FINISHED = 1
EXIT_BAD_INPUT = 2
EXIT_MONITORS = 3
EXIT_OUTPUT_ERROR = 4
# Close reasons of a crawl that stopped where the user asked it to.
REQUESTED = ("finished", "shutdown", "cancelled")


def check_process_settings(settings: BaseSettings) -> None:
    """Settings read before any crawler exists (logging, JOBDIR, REDIS_URL): BadConfig."""
    level = settings.get("LOG_LEVEL")
    if isinstance(level, str) and not isinstance(logging.getLevelName(level.upper()), int):
        raise BadConfig(f"LOG_LEVEL: unknown level {level!r} "
                        "(use DEBUG, INFO, WARNING, ERROR or CRITICAL)")
    log_file = settings.get("LOG_FILE")
    if log_file:
        try:
            with open(log_file, "a", encoding="utf-8"):
                pass
        except OSError as exc:
            raise BadConfig(f"LOG_FILE: cannot write {log_file}: {exc.strerror}") from None
    jobdir = settings.get("JOBDIR")
    if jobdir and os.path.exists(jobdir) and not os.path.isdir(jobdir):
        raise BadConfig(f"JOBDIR: {jobdir} is a file; give a folder")
    redis_url = cluster_redis_url(settings)
    if redis_url and urlsplit(str(redis_url)).scheme not in ("redis", "rediss", "unix"):
        raise BadConfig(f"REDIS_URL: not a Redis URL: {redis_url!r} "
                        "(e.g. redis://127.0.0.1:6379/0)")


def check_usage(settings: BaseSettings, spider_cls: type | None, spargs: dict[str, Any]) -> None:
    """Bad usage found before the banner: the add-ons' checks, Scrapy's numbers, the types of
    the declared settings and the spider's arguments (its ``__init__`` checks them: the
    spider is made once, and dropped)."""
    settings = settings.copy()
    for path in build_component_list(settings["ADDONS"]):
        load_object(path)().update_settings(settings)
    check_scrapy_numbers(settings)
    check_declared_types(settings)
    if spider_cls is not None:
        spider_cls(**spargs)


def outcome(
    stats: dict[str, Any], detail: str | None, *, cluster: bool = False
) -> tuple[str, int] | None:
    """(error message, exit status) of a crawl that ran, or None when it did its job.

    ``cluster``: a worker of a cluster crawl, whose books are counted at the merge.
    """
    if stats.get(OUTPUT_ERROR):
        message = (f"{stats[OUTPUT_ERROR]} (the crawl stopped; nothing unwritten is marked "
                   "exported: run it again with the same JOBDIR once there is room)")
        return message, EXIT_OUTPUT_ERROR
    reason = stats.get("finish_reason") or "shutdown"  # none when stopped while starting
    if reason == SITE_CHANGED and stats.get(BREAKER):  # the circuit breaker stopped it
        return f"monitors failed: {describe_failures([stats[BREAKER]])}", EXIT_MONITORS
    if reason not in REQUESTED and not reason.startswith("closespider_"):
        return f"crawl did not finish ({reason}){': ' + detail if detail else ''}", \
            EXIT_NOT_FINISHED
    books = stats.get("export/json_items", stats.get("item_scraped_count", 0))
    if reason == "finished" and not books and not cluster:
        pages = stats.get("response_received_count", 0)
        return f"the crawl finished without a single book ({pages} pages; see the " \
            "failures and rejects files)", EXIT_NOT_FINISHED
    if stats.get(FAILED):
        failed = [check for check in stats.get(RESULTS, []) if check.get("passed") is False]
        return f"monitors failed: {describe_failures(failed)}", EXIT_MONITORS
    return None


class Command(UsageWarnings, ScrapyCrawlCommand):
    log_file: Path | None = None  # the full log, on a quiet terminal

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        self.warn_arguments(args, opts.spargs)
        try:
            check_process_settings(self.settings)
            check_usage(self.settings, self.spider_class(args), opts.spargs)
            self.log_file = quiet_log_file(self.settings)
            if self.log_file is not None:
                log_to_file(self.settings, self.log_file)
        except BadConfig as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(EXIT_BAD_INPUT)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if self.log_file is None:
            self.crawl(args, opts)
            return
        add_terminal_handler(logger.name)
        try:
            self.crawl(args, opts)
        finally:
            for handler in logging.getLogger().handlers:
                handler.flush()  # an open file keeps its lines through the rename
            if finish_log(self.log_file, refused=self.exitcode == EXIT_BAD_INPUT):
                print(f"full log: {self.log_file}", file=sys.stderr)

    def crawl(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give exactly one spider name")
        assert self.crawler_process
        crawler = self.crawler_process.create_crawler(args[0])
        start_errors: list[BaseException] = []

        def keep(exc: BaseException | None) -> None:
            if exc is not None:
                start_errors.append(exc)

        running = self.crawler_process.crawl(crawler, **opts.spargs)
        if isinstance(running, Deferred):
            running.addErrback(lambda failure: keep(failure.value))
        elif isinstance(running, asyncio.Task):
            running.add_done_callback(lambda task: task.cancelled() or keep(task.exception()))
        self.crawler_process.start()
        settle_output(crawler)

        if start_errors:
            exc = start_errors[0]
            if isinstance(exc, BadConfig):
                self._fail(str(exc), EXIT_BAD_INPUT)
            else:
                logger.error("the crawl could not start", exc_info=exc)
                self._fail(f"the crawl could not start: {type(exc).__name__}: {exc}",
                           EXIT_NOT_FINISHED)
            return
        if self.crawler_process.bootstrap_failed:
            self._fail("the crawl could not start (see the log above)", EXIT_NOT_FINISHED)
            return
        stats = crawler.stats.get_stats() if crawler.stats else {}
        cluster = is_cluster(crawler.settings)
        failed = outcome(stats, getattr(crawler.spider, "failure_message", None), cluster=cluster)
        if cluster and failed is None and not stats.get("item_scraped_count"):
            print("note: this worker exported no book: the cluster's other workers took every "
                  "request (the merge counts the cluster's books)", file=sys.stderr)
        if failed is not None:
            self._fail(*failed)

    def _fail(self, message: str, status: int) -> None:
        if self.settings and self.settings.get("LOG_FILE"):
            logger.error(message)  # the job log under scrapyd
        print(f"error: {message}", file=sys.stderr)
        self.exitcode = status



