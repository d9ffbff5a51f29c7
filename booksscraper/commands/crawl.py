"""`scrapy crawl`, with one-line errors and an honest exit status.

Scrapy's own command prints a traceback for a bad setting and exits 0 when a
crawl stops early. This one (the project's ``COMMANDS_MODULE`` overrides the
built-in) prints ``error: <message>`` on stderr (and logs it, so it is in the
job log under scrapyd) and exits:

- 2 when the crawl cannot start because of its input (``BadConfig``: a bad
  setting, spider argument or input file);
- 1 when it could not start for another reason (a traceback is logged: a
  bug, not bad input), or started but did not finish (its close reason is not
  ``finished``: the start URL failed, Ctrl-C, a memory cap...);
- 0 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError
from twisted.internet.defer import Deferred

from booksscraper.errors import BadConfig

logger = logging.getLogger(__name__)


class Command(ScrapyCrawlCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give exactly one spider name")
        assert self.crawler_process
        crawler = self._create_crawler(args[0])
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

        if start_errors:
            exc = start_errors[0]
            if isinstance(exc, BadConfig):
                self._fail(str(exc), 2)
            else:
                logger.error("the crawl could not start", exc_info=exc)
                self._fail(f"the crawl could not start: {type(exc).__name__}: {exc}", 1)
            return
        if self.crawler_process.bootstrap_failed:
            self._fail("the crawl could not start (see the log above)", 1)
            return
        reason = crawler.stats.get_value("finish_reason") if crawler.stats else None
        if reason != "finished":
            detail = getattr(crawler.spider, "failure_message", None)
            self._fail(f"crawl did not finish ({reason}){': ' + detail if detail else ''}", 1)

    def _fail(self, message: str, status: int) -> None:
        if self.settings and self.settings.get("LOG_FILE"):
            logger.error(message)  # the job log under scrapyd
        print(f"error: {message}", file=sys.stderr)
        self.exitcode = status



