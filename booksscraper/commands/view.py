"""`scrapy view`: Scrapy's own, with OUTPUT_ENABLED off (a look never touches OUTPUT_DIR).

Unknown `-s` names close to a known one are a WARNING first (``commands.usage``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from scrapy.commands.view import Command as ScrapyCommand

from booksscraper.commands.usage import UsageWarnings


class Command(UsageWarnings, ScrapyCommand):
    default_settings: ClassVar[dict[str, Any]] = {
        **ScrapyCommand.default_settings,
        "OUTPUT_ENABLED": False,
    }
