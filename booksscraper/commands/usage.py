"""Usage warnings every project command prints first, before Scrapy's banner.

A mixin (not a command: the project's ``COMMANDS_MODULE`` lists only
``ScrapyCommand`` subclasses): put it before Scrapy's command class.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from scrapy.spiderloader import get_spider_loader

from booksscraper.config.typos import argument_warnings, known_settings, setting_warnings


def warn(message: str) -> None:
    print(f"WARNING: {message}", file=sys.stderr)


class UsageWarnings:
    settings: Any

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        known = known_settings(self.settings)  # before -s adds its names
        super().process_options(args, opts)  # type: ignore[misc]
        names = [item.split("=", 1)[0] for item in getattr(opts, "set", None) or []]
        for message in setting_warnings(names, known):
            warn(message)

    def spider_class(self, args: list[str]) -> type | None:
        """The class of the spider named first in ``args``; None: none, or unknown (Scrapy
        says so later)."""
        if not args:
            return None
        try:
            return get_spider_loader(self.settings).load(args[0])
        except KeyError:
            return None

    def warn_arguments(self, args: list[str], arguments: dict[str, Any]) -> None:
        """``-a`` names the spider named first in ``args`` does not take."""
        spider_cls = self.spider_class(args)
        if spider_cls is None or not arguments:
            return
        for message in argument_warnings(arguments, spider_cls, args[0]):
            warn(message)
