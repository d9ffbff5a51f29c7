"""Check Scrapy's own numeric settings at start-up, one clear line each.

Scrapy reads ``CONCURRENT_REQUESTS=0`` or ``-3`` as "no limit" and fails on
``"abc"`` deep inside the engine with a traceback. This extension (first in
the add-on's order, so before anything else reads them) turns each into
``BadConfig("CONCURRENT_REQUESTS: ...")``: ``error: ...`` and exit 2. The crawl command
runs the same check before Scrapy's banner (``check_scrapy_numbers``), and checks the
project's declared numbers and booleans for their type (``check_declared_types``): a
component checks its own ranges when it starts.
"""

from __future__ import annotations

from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings

from booksscraper.config.declared import SETTINGS
from booksscraper.config.readers import boolean, int_setting, number_setting

# name -> smallest allowed value
WHOLE_NUMBERS = {
    "CONCURRENT_REQUESTS": 1,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
    "CONCURRENT_REQUESTS_PER_IP": 0,  # 0: per-domain limits apply
    "CONCURRENT_ITEMS": 1,
    "DOWNLOAD_MAXSIZE": 0,
    "DOWNLOAD_WARNSIZE": 0,
    "REDIRECT_MAX_TIMES": 0,
    "DEPTH_LIMIT": 0,
}
NUMBERS = {
    "DOWNLOAD_DELAY": 0.0,
    "DOWNLOAD_TIMEOUT": 0.001,
}


def check_scrapy_numbers(settings: BaseSettings) -> None:
    """BadConfig for the first of Scrapy's numeric settings that is not a usable number."""
    for name, minimum in WHOLE_NUMBERS.items():
        int_setting(settings, name, 0, minimum=minimum)
    for name, minimum in NUMBERS.items():
        number_setting(settings, name, 0.0, minimum=minimum)


def check_declared_types(settings: BaseSettings) -> None:
    """BadConfig for the first declared number or boolean given as something else (or < 0:
    no declared number is negative)."""
    for setting in SETTINGS:
        if settings.get(setting.name) is None:
            continue  # unset: the component's own default applies
        if setting.type is bool:
            boolean(settings, setting.name)
        elif setting.type is int:
            int_setting(settings, setting.name, 0)
        elif setting.type is float:
            number_setting(settings, setting.name, 0.0)


class SettingsCheck:
    def __init__(self, crawler: Crawler) -> None:
        check_scrapy_numbers(crawler.settings)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SettingsCheck:
        return cls(crawler)
