"""`scrapy check`: Scrapy's own, with OUTPUT_ENABLED off (a look never touches OUTPUT_DIR).

The books spider's contracts (``@page``, ``booksscraper.contracts``) name pages of the
sandbox's default catalogue, on the site given by ``-a start_url=``: without it (and without
``--list``) the command says so in one line and exits 2 instead of checking the real site
against pages it does not have. Unknown ``-s`` names close to a known one are a WARNING first
(``commands.usage``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, ClassVar

from scrapy.commands.check import Command as ScrapyCommand

from booksscraper.commands.usage import UsageWarnings
from booksscraper.contracts import SITE_ARGUMENT

EXIT_BAD_INPUT = 2


class Command(UsageWarnings, ScrapyCommand):
    default_settings: ClassVar[dict[str, Any]] = {
        **ScrapyCommand.default_settings,
        "OUTPUT_ENABLED": False,
    }

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        if not opts.list and SITE_ARGUMENT not in opts.spargs:
            print(f"error: give -a {SITE_ARGUMENT}=<the sandbox's URL>: the contracts check "
                  "pages of the sandbox's default catalogue (python -m booksscraper.sandbox "
                  "--port 8000, then -a start_url=http://127.0.0.1:8000/)", file=sys.stderr)
            sys.exit(EXIT_BAD_INPUT)
