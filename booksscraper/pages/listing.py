"""A listing page (home, ``catalogue/page-N.html``, a category page) to links.

The pager says "Page 1 of 50", so the first page yields the URLs of every
other page at once: following 'next' one page at a time would leave the
crawl waiting on one listing request after another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

from parsel import Selector

_PAGER = re.compile(r"Page\s+(\d+)\s+of\s+(\d+)")
_PAGE_NUMBER = re.compile(r"page-\d+\.html$")


@dataclass
class ListingPage:
    book_urls: list[str] = field(default_factory=list)
    next_url: str | None = None
    page: int | None = None
    page_count: int | None = None

    def other_page_urls(self) -> list[str]:
        """URLs of the pages after this one, from the pager and the 'next' link."""
        if self.next_url is None:
            return []
        if not (self.page and self.page_count) or not _PAGE_NUMBER.search(self.next_url):
            return [self.next_url]
        return [
            _PAGE_NUMBER.sub(f"page-{number}.html", self.next_url)
            for number in range(self.page + 1, self.page_count + 1)
        ]


def parse_listing_page(sel: Selector, url: str) -> ListingPage:
    hrefs = sel.css("article.product_pod h3 a::attr(href)").getall()
    next_href = sel.css("ul.pager li.next a::attr(href)").get()
    pager = _PAGER.search(" ".join(sel.css("ul.pager li.current::text").getall()))
    return ListingPage(
        book_urls=[urljoin(url, href) for href in hrefs],
        next_url=urljoin(url, next_href) if next_href else None,
        page=int(pager.group(1)) if pager else None,
        page_count=int(pager.group(2)) if pager else None,
    )
