"""`scrapy parse`: Scrapy's own, with OUTPUT_ENABLED off (a look never touches OUTPUT_DIR).

A spider that takes ``start_url`` (``contracts.SITE_ARGUMENT``) and was not given one
gets the page's URL: its site (and allowed domain) is the page's, so
``scrapy parse <any page of the site> --spider books`` needs no ``-a``. No response for the
page exits 1, not 0, with the reason in one line (no traceback). Unknown ``-s``/``-a`` names
close to a known one are a WARNING first (``commands.usage``).
"""

from __future__ import annotations

import argparse
import logging
from typing import Any, ClassVar

from scrapy import Request, Spider
from scrapy.commands.parse import Command as ScrapyCommand
from twisted.python.failure import Failure

from booksscraper.commands.usage import UsageWarnings
from booksscraper.config.typos import spider_arguments
from booksscraper.contracts import SITE_ARGUMENT

logger = logging.getLogger(__name__)


class Command(UsageWarnings, ScrapyCommand):
    default_settings: ClassVar[dict[str, Any]] = {
        **ScrapyCommand.default_settings,
        "OUTPUT_ENABLED": False,
    }

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        self.warn_arguments([opts.spider] if opts.spider else [], opts.spargs)

    def set_spidercls(self, url: str, opts: argparse.Namespace) -> None:
        super().set_spidercls(url, opts)
        if self.spidercls and SITE_ARGUMENT in spider_arguments(self.spidercls):
            opts.spargs.setdefault(SITE_ARGUMENT, url)

    def prepare_request(self, spider: Spider, request: Request,
                        opts: argparse.Namespace) -> Request:
        request = super().prepare_request(spider, request, opts)
        request.errback = self.download_failed
        return request

    @staticmethod
    def download_failed(failure: Failure) -> None:
        logger.error("Could not download %s: %s", failure.request, failure.value)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        super().run(args, opts)
        if self.spidercls is None or self.first_response is None:
            self.exitcode = 1  # Scrapy logged why: no spider, or no response
