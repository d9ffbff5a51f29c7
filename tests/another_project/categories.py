"""The site's category index: one item per category, with the count its page announces."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response

RESULTS = re.compile(r"<strong>(\d+)</strong>\s+results?")


class CategoriesSpider(scrapy.Spider):
    name = "categories"

    def __init__(self, start_url: str = "https://books.toscrape.com/", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_url = start_url
        self.allowed_domains = [urlsplit(start_url).hostname or ""]

    async def start(self) -> AsyncIterator[scrapy.Request]:
        yield scrapy.Request(self.start_url)

    def parse(self, response: Response) -> Iterator[scrapy.Request]:
        for link in response.css("div.side_categories ul li ul li a"):
            yield response.follow(link, self.parse_category,
                                  cb_kwargs={"name": link.css("::text").get("").strip()})

    def parse_category(self, response: Response, name: str) -> Iterator[dict[str, Any]]:
        found = RESULTS.search(response.text)  # "<strong>11</strong> results."; none if empty
        books = int(found.group(1)) if found else len(response.css("article.product_pod"))
        yield {"category": name, "url": response.url, "books": books}
