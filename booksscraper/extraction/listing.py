"""A listing page (home, ``catalogue/page-N.html``, a category page) to links.

The pager says "Page 1 of 50", so any page's URL can be written down from
the first one (``page_url``): following 'next' one page at a time would leave
the crawl waiting on one listing request after another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

from parsel import Selector

from booksscraper.extraction.book import book_url

_PAGER = re.compile(r"Page\s+(\d+)\s+of\s+(\d+)")
_PAGE_NUMBER = re.compile(r"page-\d+\.html$")


@dataclass
class ListingPage:
    book_urls: list[str] = field(default_factory=list)
    next_url: str | None = None
    page: int | None = None
    page_count: int | None = None
    result_count: int | None = None  # "32 results"; 0 for "No products found."; None: not shown
    shown: tuple[int, int] | None = None  # "showing 21 to 40": the 1-based range of this page

    @property
    def expected_books(self) -> int | None:
        """Books this page says it shows: its range, or the count of a one-page listing."""
        if self.shown is not None:
            return max(0, self.shown[1] - self.shown[0] + 1)
        if self.result_count is not None and self.next_url is None and not self.page:
            return self.result_count
        return None

    @property
    def recognised(self) -> bool:
        """It looks like a listing: books, a pager or a result count (a bot wall has none)."""
        shown = (self.book_urls, self.next_url, self.page, self.result_count)
        return any(part is not None and part != [] for part in shown)

    @property
    def numbered(self) -> bool:
        """The pager gives the page count and the 'next' URL has the page-N.html form."""
        return bool(
            self.page and self.page_count and self.next_url and _PAGE_NUMBER.search(self.next_url)
        )

    @property
    def books_from_here(self) -> int | None:
        """Books on this page and the pages after it, by the result count: what a crawl
        starting here can get (page k of N: the count less the k - 1 full pages before)."""
        if self.result_count is None or not self.page or self.page == 1:
            return self.result_count
        if self.page == self.page_count:
            return len(self.book_urls)
        return max(0, self.result_count - (self.page - 1) * len(self.book_urls))

    def other_page_urls(self) -> list[str]:
        """URLs of the pages after this one, from the pager and the 'next' link."""
        if self.next_url is None:
            return []
        if not self.numbered:
            return [self.next_url]
        assert self.page and self.page_count  # numbered
        return [page_url(self.next_url, n) for n in range(self.page + 1, self.page_count + 1)]


def page_url(numbered_url: str, number: int) -> str:
    """The URL of page ``number`` of the listing that ``numbered_url`` (a page-N.html) is in."""
    return _PAGE_NUMBER.sub(f"page-{number}.html", numbered_url)


def parse_listing_page(sel: Selector, url: str) -> ListingPage:
    hrefs = sel.css("article.product_pod h3 a::attr(href)").getall()
    next_href = sel.css("ul.pager li.next a::attr(href)").get()
    pager = _PAGER.search(" ".join(sel.css("ul.pager li.current::text").getall()))
    results = sel.css("form.form-horizontal")
    numbers = results.css("strong::text").getall()
    count = numbers[0] if numbers else None
    shown = [n.strip() for n in numbers[1:3]]
    return ListingPage(
        # Unique, in page order: a page listing a book twice shows it once.
        book_urls=list(dict.fromkeys(book_url(urljoin(url, href)) for href in hrefs)),
        next_url=urljoin(url, next_href) if next_href else None,
        page=int(pager.group(1)) if pager else None,
        page_count=int(pager.group(2)) if pager else None,
        result_count=int(count) if count and count.strip().isdigit() else (
            0 if "No products found" in " ".join(results.css("::text").getall()) else None),
        shown=(int(shown[0]), int(shown[1]))
        if len(shown) == 2 and all(n.isdigit() for n in shown) else None,
    )
