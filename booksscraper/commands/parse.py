"""`scrapy parse`: Scrapy's own, with OUTPUT_ENABLED off (a look never touches OUTPUT_DIR)."""

from __future__ import annotations

from typing import Any, ClassVar

from scrapy.commands.parse import Command as ScrapyCommand


class Command(ScrapyCommand):
    default_settings: ClassVar[dict[str, Any]] = {
        **ScrapyCommand.default_settings,
        "OUTPUT_ENABLED": False,
    }
