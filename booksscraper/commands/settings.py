"""`scrapy settings`: Scrapy's, showing the settings a crawl runs with (add-ons applied).

Scrapy's own command shows the project's settings before the add-ons change them, so
``scrapy settings --get RETRY_TIMES`` said 2 while every crawl retried 6 times.
"""

from __future__ import annotations

import argparse

from scrapy.commands.settings import Command as ScrapySettingsCommand
from scrapy.utils.conf import build_component_list
from scrapy.utils.misc import load_object

from booksscraper.commands.usage import UsageWarnings


class Command(UsageWarnings, ScrapySettingsCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        settings = self.settings.copy()
        for path in build_component_list(settings["ADDONS"]):
            load_object(path)().update_settings(settings)
        self.settings = settings
        super().run(args, opts)
