"""A spider that needs no server: yields catalogue items from start(), then fails."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import scrapy

from tests.cleanup.samples import spider_item


class RaisingSpider(scrapy.Spider):
    name = "cleanup_raiser"

    def __init__(self, count: str = "200", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.count = int(count)

    async def start(self) -> AsyncIterator[Any]:
        for book_id in range(1, self.count + 1):
            yield spider_item(book_id)
        raise RuntimeError("the spider failed on purpose")
