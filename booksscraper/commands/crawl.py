"""`scrapy crawl`, with one-line errors and an honest exit status.

Scrapy's own command prints a traceback for a bad setting and exits 0 when a
crawl stops early. This one (the project's ``COMMANDS_MODULE`` overrides the
built-in) prints ``error: <message>`` and exits:

- 2 when the crawl cannot start (``BadConfig``: a bad setting, spider argument
  or input file);
- 1 when it started but did not finish (its close reason is not
  ``finished``: the start URL failed, Ctrl-C, a memory cap...);
- 0 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from booksscraper.errors import BadConfig


class Command(ScrapyCrawlCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give exactly one spider name")
        assert self.crawler_process
        crawler = self._create_crawler(args[0])
        errors: list[str] = []

        def bad_config(exc: BaseException | None) -> bool:
            if isinstance(exc, BadConfig):
                errors.append(str(exc))
                return True
            return False

        running = self.crawler_process.crawl(crawler, **opts.spargs)
        if isinstance(running, Deferred):

            def on_failure(failure: Failure) -> Any:
                return None if bad_config(failure.value) else failure

            running.addErrback(on_failure)
        elif isinstance(running, asyncio.Task):
            running.add_done_callback(
                lambda task: task.cancelled() or bad_config(task.exception())
            )
        self.crawler_process.start()

        if errors:
            print(f"error: {errors[0]}", file=sys.stderr)
            self.exitcode = 2
            return
        if self.crawler_process.bootstrap_failed:
            self.exitcode = 1
            return
        reason = crawler.stats.get_value("finish_reason") if crawler.stats else None
        if reason != "finished":
            message = getattr(crawler.spider, "failure_message", None)
            print(f"error: crawl did not finish ({reason}){': ' + message if message else ''}",
                  file=sys.stderr)
            self.exitcode = 1
