"""The ledger extension: one per crawl, looked up with ``Ledger.of(crawler)``.

The spider tells it what the site announces and lists; the rejects and failures
records, the export (``item_scraped``, ``item_dropped``) and the request holder tell it
what became of each book. Books are known by ``book_key`` (the catalogue id in the
path, never the query string). At close, the books with no outcome (listed and never
settled, or announced and never listed) are "not attempted" when the crawl stopped
early, "unaccounted" when it claims to have finished (a listing page short of its
range): every book announced is in one count. Counts go to stats as they change
(``booksscraper.ledger.figures``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from itemadapter import ItemAdapter
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured

from booksscraper.cluster.mode import is_cluster
from booksscraper.config.readers import boolean, whole_number
from booksscraper.dedup.keyset import KeySet, key64
from booksscraper.extraction.book import book_key
from booksscraper.extraction.listing import ListingPage
from booksscraper.extraction.validation import problem_field
from booksscraper.ledger import figures as f
from booksscraper.monitoring.breaker import FirstPages, trip

logger = logging.getLogger(__name__)


class LeftAtStop(DropItem):
    """An item a user's limit (``CLOSESPIDER_ITEMCOUNT``) leaves unexported: not attempted."""


def _url(item: Any) -> str | None:
    url = ItemAdapter(item).get("url") if ItemAdapter.is_item(item) else None
    return url if isinstance(url, str) else None


class Ledger:
    def __init__(self, crawler: Crawler) -> None:
        if not boolean(crawler.settings, "OUTPUT_ENABLED"):
            raise NotConfigured  # a look at one page (scrapy parse, check)
        assert crawler.stats is not None
        self.crawler = crawler
        self.stats = crawler.stats
        # 64-bit keys of book_key, not strings: the ledger stays small on a large catalogue.
        self.listed = KeySet()
        self.settled = KeySet()
        self.settled_listed = 0  # settled books that a listing page showed
        self.closed = False
        self.result_count: int | None = None  # the whole listing's "N results"
        self.per_page: int | None = None
        self.short: list[dict[str, Any]] = []
        self.first_pages = FirstPages(whole_number(crawler.settings, "MONITOR_BREAKER_PAGES"))
        self.reject_fields: dict[str, str] = {}  # field -> a sample URL (the breaker's line)
        for handler, signal in ((self.item_scraped, signals.item_scraped),
                                (self.item_dropped, signals.item_dropped),
                                (self.spider_opened, signals.spider_opened),
                                (self.spider_closed, signals.spider_closed)):
            crawler.signals.connect(handler, signal=signal)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Ledger:
        return cls(crawler)

    @staticmethod
    def of(crawler: Crawler) -> Ledger | None:
        """The crawl's ledger (``crawler.get_extension``); None when it is off, or for a
        crawler without extensions (a component tested alone)."""
        try:
            return crawler.get_extension(Ledger)
        except RuntimeError:  # the extension manager is not built
            return None

    def spider_opened(self) -> None:
        """Every count in stats.json from the start, 0 until it happens: a cluster's
        ledger sums its workers' whatever happened on each."""
        for key in f.COUNTS.values():
            if key != f.ANNOUNCED:
                self.stats.set_value(key, self.stats.get_value(key, 0))

    # What the site announces and lists (the spider).

    def announce(self, books: int, listing: ListingPage | None = None) -> None:
        """The start page's count (and, from its pager, the listing pages from there on)."""
        self.stats.set_value(f.ANNOUNCED, books)
        if listing is not None and listing.page_count:
            pages = listing.page_count - (listing.page or 1) + 1
            self.stats.set_value(f.LISTING_PAGES_ANNOUNCED, pages)

    def start_book(self, url: str) -> None:
        """The crawl starts at a book page: one book announced and listed."""
        self.announce(1)
        self._list(url)

    def listing_read(self, url: str, listing: ListingPage) -> None:
        self.stats.inc_value(f.LISTING_PAGES)
        if listing.result_count is not None and self.result_count is None:
            self.result_count = listing.result_count
        if listing.shown is not None and listing.page and listing.page < (listing.page_count or 0):
            self.per_page = listing.expected_books  # a full page
        for book in listing.book_urls:
            self._list(book)
        expected, found = listing.expected_books, len(listing.book_urls)
        if expected is not None and found < expected:
            self.short.append({"url": url, "expected": expected, "found": found})
            self.stats.set_value(f.SHORT_LISTINGS, list(self.short))
            logger.warning("Listing page %s shows %d books, its range says %d: %d unaccounted",
                           url, found, expected, expected - found)

    def listing_lost(self, page: int | None) -> None:
        """A listing page failed for good: the books the site announced on it are named lost."""
        if not (page and self.per_page and self.result_count):
            return
        books = max(0, min(self.per_page, self.result_count - (page - 1) * self.per_page))
        self.stats.inc_value(f.BEHIND_LOST_LISTINGS, books)

    def _list(self, url: str) -> None:
        key = key64(book_key(url))
        if self.listed.add(key):
            self.stats.inc_value(f.LISTED)
            self.settled_listed += key in self.settled

    # What became of each book.

    def book_checked(self, url: str, problems: list[str]) -> None:
        """The first copy of a book page, with its problems: the breaker's first pages."""
        field = self.first_pages.add(url, problems)
        if field is not None:
            size = self.first_pages.size
            trip(self.crawler, f"the first {size} book pages all fail on {field} "
                 f"(e.g. {self.first_pages.sample[field]}): has the site changed its layout?",
                 size, size)

    def exported_before(self, url: str) -> None:
        self._settle(url, f.EXPORTED_BEFORE)

    def rejected(self, item: Any, reasons: list[str], *, given_up: bool) -> None:
        url = _url(item) or "?"
        if not given_up:
            self.stats.inc_value(f.REFETCHED)
            return
        for reason in reasons:
            code = reason.split(":", 1)[0]
            self.stats.inc_value(f"{f.REJECTED}/{code}")
            self.reject_fields.setdefault(problem_field(code) or code, url)
        self._settle(url, f.REJECTED)

    def commonest_reject(self) -> tuple[str, str]:
        """(field, a sample URL) of the reason most books were rejected for so far."""
        prefix = f.REJECTED + "/"
        counts = {key[len(prefix):]: value for key, value in self.stats.get_stats().items()
                  if key.startswith(prefix)}
        if not counts:
            return "?", "?"
        code = max(counts, key=counts.__getitem__)
        field = problem_field(code) or code
        return field, self.reject_fields.get(field, "?")

    def request_failed(self, url: str) -> None:
        """A request given up (counted by the failures file): a book's settles it."""
        if key64(book_key(url)) in self.listed:
            self._settle(url, f.FAILED_BOOKS)

    def not_attempted(self, requests: Iterable[Request]) -> None:
        """Requests a user's stop left unsent (held by the pacer, waiting for a retry)."""
        for request in requests:
            listed = key64(book_key(request.url)) in self.listed
            if listed and self.closed:
                continue  # counted at close with every listed book left
            if listed:
                self._settle(request.url, f.NOT_ATTEMPTED)
            else:
                self.stats.inc_value(f.NOT_ATTEMPTED)

    def item_scraped(self, item: Any) -> None:
        url = _url(item)
        if url:
            self._settle(url, f.EXPORTED)

    def item_dropped(self, item: Any, exception: BaseException) -> None:
        url = _url(item)
        if url and key64(book_key(url)) not in self.settled:  # rejects settle before the drop
            left = isinstance(exception, LeftAtStop)
            self._settle(url, f.NOT_ATTEMPTED if left else f.DUPLICATES)

    def _settle(self, url: str, outcome: str) -> None:
        """The book's outcome (its ``ledger/...`` stat), counted once: the first one stands."""
        key = key64(book_key(url))
        if self.closed or not self.settled.add(key):
            return
        self.settled_listed += key in self.listed
        self.stats.inc_value(outcome)

    def spider_closed(self, reason: str) -> None:
        """Books never settled: not attempted after an early stop, else unaccounted."""
        self.closed = True
        if is_cluster(self.crawler.settings):
            return  # a worker lists and settles its share: the cluster's ledger is the sum
        left = len(self.listed) - self.settled_listed
        announced = int(self.stats.get_value(f.ANNOUNCED) or 0)
        lost = int(self.stats.get_value(f.BEHIND_LOST_LISTINGS) or 0)
        never_listed = max(0, announced - len(self.listed) - lost)
        if reason != "finished":  # the rest of the catalogue was not attempted
            self.stats.inc_value(f.NOT_ATTEMPTED, left + never_listed)
            return
        self.stats.set_value(f.UNACCOUNTED, left + never_listed)
        if left + never_listed:
            logger.warning("%d books unaccounted: %d announced but never listed%s, %d listed "
                         "and never settled", left + never_listed, never_listed,
                         f" (short listing pages: {', '.join(s['url'] for s in self.short)})"
                         if self.short else "", left)
