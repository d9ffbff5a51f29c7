"""The `books` spider: every book of the catalogue, exactly once.

``scrapy crawl books`` starts at the real site; ``-a start_url=URL`` points it
elsewhere (the sandbox, a category page, one book page). Extraction is in
``booksscraper.extraction``.

Listing pages run a rolling window ahead of the books. The pager of the first
page ("Page 1 of 50") gives every page's URL; page n is scheduled by page
n - K (the first page schedules the next K) and goes out right after the
books of page n - K (priorities), so the queue always holds about K pages of
books: never empty while a listing page is in flight (no idle round trips),
never the whole catalogue (flat memory without JOBDIR). K is
``LISTING_LOOKAHEAD``. The window lives in the requests' meta, not in the
spider, so it works the same on a scrapy-redis cluster. A listing page that
fails or is unrecognised still schedules its successor. Without a numbered
pager the spider follows 'next' one page at a time.

With ``JOBDIR`` (a resumable crawl, see ``booksscraper.output.resume``) the spider
walks the listing pages again even if they were seen, and skips books the
previous runs already exported.

A book page whose item would be invalid (a malformed or truncated page) is
fetched again up to ``REFETCH_INVALID_PAGES`` times [2]; each bad copy is
written to the rejects file (stage ``malformed_page``; the ledger's "refetched", not
a book lost). The last copy goes on to validation, which rejects it if it is still
bad: nothing disappears.

Every book is known by its catalogue id and path, not its raw URL: links lose their
query string and fragment (``extraction.book.book_url``). What the site announces and
lists, and what became of each book, goes to the ledger (``booksscraper.ledger``).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import scrapy
from itemadapter import ItemAdapter
from parsel import Selector
from scrapy.http import HtmlResponse, Request, Response, TextResponse
from scrapy.settings import SETTINGS_PRIORITIES
from scrapy.utils.defer import deferred_from_coro
from twisted.python.failure import Failure

from booksscraper.config.errors import BadConfig
from booksscraper.config.readers import whole_number
from booksscraper.extraction.book import parse_book_page
from booksscraper.extraction.listing import ListingPage, page_url, parse_listing_page
from booksscraper.extraction.validation import item_problems
from booksscraper.ledger.book_ledger import Ledger
from booksscraper.ledger.figures import LISTINGS_LOST
from booksscraper.output.folder import output_folder
from booksscraper.output.resume import UrlSet, exported_before
from booksscraper.pipelines.validation import Checked
from booksscraper.records.lost import record_lost, record_lost_request
from booksscraper.records.rejects import Rejects

DEFAULT_START_URL = "https://books.toscrape.com/"
START = "start_page"  # meta flag of the start URL's request
# What a page fetched again keeps of its request's meta: not the retries it spent.
REFETCH_META = (START, "listing")


def book_priority(page: int) -> int:
    """Books of earlier listing pages go first."""
    return -2 * page


def listing_priority(page: int, lookahead: int) -> int:
    """Listing page ``page`` goes out right after the books of page ``page - lookahead``."""
    return -2 * (page - lookahead) - 1


def check_start_url(url: str) -> str:
    """The start URL if it is an absolute http(s) URL, else BadConfig."""
    if not url.strip():
        raise BadConfig("start_url: empty (leave it out to crawl https://books.toscrape.com/)")
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise BadConfig(f"start_url: malformed URL {url!r}: {exc}") from None
    if not parts.scheme:
        raise BadConfig(f"start_url: not an absolute URL: {url!r}")
    if parts.scheme not in ("http", "https"):
        raise BadConfig(
            f"start_url: unsupported scheme {parts.scheme!r} in {url!r} (use http or https)"
        )
    if not parts.hostname:
        raise BadConfig(f"start_url: no host in {url!r}")
    return parts.geturl()


class BooksSpider(scrapy.Spider):
    name = "books"
    # The default site, so `scrapy parse|shell <a page of it>` finds this spider by the URL;
    # an instance's allowed domain is its start_url's host (__init__).
    allowed_domains = [urlsplit(DEFAULT_START_URL).hostname]

    def __init__(self, start_url: str | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.start_url = check_start_url(DEFAULT_START_URL if start_url is None else start_url)
        self.site_host = urlsplit(self.start_url).hostname
        self.allowed_domains = [self.site_host]
        self.failure_message: str | None = None
        self.resumable = False
        self.exported: UrlSet = UrlSet()  # books a previous run of this JOBDIR exported
        self.listings_scheduled: set[str] = set()  # listing page URLs, this run
        self.listed = UrlSet()  # book URLs seen on listing pages, this run

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> BooksSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.refetch_limit = whole_number(crawler.settings, "REFETCH_INVALID_PAGES")
        spider.lookahead = whole_number(crawler.settings, "LISTING_LOOKAHEAD")  # 0: auto
        job = kwargs.get("_job")  # scrapyd's job id
        if job and crawler.settings.getpriority("OUTPUT_DIR") <= SETTINGS_PRIORITIES["project"]:
            # One output folder per scrapyd job, unless the job chose one.
            crawler.settings.set("OUTPUT_DIR", str(output_folder(crawler.settings) / job),
                                 priority="spider")
        if crawler.settings.get("JOBDIR"):
            spider.resumable = True
            spider.exported = exported_before(crawler)
        return spider

    @property
    def ledger(self) -> Ledger | None:
        """The crawl's ledger (None for a look at one page: ``scrapy parse``)."""
        return Ledger.of(self.crawler)

    async def start(self) -> AsyncIterator[Request]:
        yield Request(
            self.start_url,
            callback=self.parse,
            errback=self.start_failed,
            dont_filter=self.resumable,
            meta={START: True},
        )

    def parse(self, response: Response) -> Iterator[Any]:
        """The start page may be a listing or a book page.

        @page index.html
        @returns items 0 0
        @returns requests 20
        """
        if isinstance(response, TextResponse) and response.css("article.product_page"):
            if self.ledger is not None:
                self.ledger.start_book(response.url)
            yield from self.parse_book(response)
        else:
            yield from self.parse_listing(response)

    def parse_listing(self, response: Response) -> Iterator[Request]:
        window = response.meta.get("listing")  # set on pages the window scheduled
        listing = (
            parse_listing_page(response.selector, response.url)
            if isinstance(response, TextResponse)
            else None
        )
        if listing is None or not listing.recognised:
            yield from self.not_a_listing(response, window)
            return
        page = window["page"] if window else listing.page or 1
        if self.ledger is not None:
            if response.meta.get(START) and listing.books_from_here is not None:
                self.ledger.announce(listing.books_from_here, listing)
            self.ledger.listing_read(response.url, listing)
        # Listing pages first: the engine sends requests as they are yielded, and
        # a listing page sent a round late idles the connections a round later.
        if window is None and listing.numbered:
            yield from self.first_listings(listing, page)
        elif window and window.get("url"):
            yield from self.next_listings(window)
        elif listing.next_url:  # no numbered pager: 'next', one page at a time
            yield from self.listing_request(listing.next_url, {"page": page + 1}, priority=0)
        for url in listing.book_urls:
            self.listed.add(url)
            if url in self.exported:
                self.crawler.stats.inc_value("resume/skipped_exported")
                if self.ledger is not None:
                    self.ledger.exported_before(url)
                continue
            yield Request(
                url,
                callback=self.parse_book,
                errback=self.request_failed,
                priority=book_priority(page),
            )

    def not_a_listing(self, response: Response, window: dict[str, Any] | None) -> Iterator[Any]:
        """A page in place of a listing (a bot wall, a login page): fetched again, then a failure.

        Whatever becomes of it, the pages after it in the window are still scheduled.
        """
        what = "not HTML" if not isinstance(response, TextResponse) else "no books, pager or count"
        refetch = self.refetch(response)
        if refetch is not None:
            self.crawler.stats.inc_value("books/listing_refetched")
            self.logger.warning("%s is not a listing page (%s): fetching it again",
                                response.url, what)
            yield refetch
            return
        if response.meta.get(START):
            self.fail_start(f"it is not a listing or book page ({what})")
            return
        record_lost(self.crawler, response.request, "not_a_listing", what)
        yield from self.after_lost_listing(response.request)

    def may_refetch(self, response: Response) -> bool:
        return response.meta.get("refetches", 0) < self.refetch_limit

    def refetch(self, response: Response) -> Request | None:
        """The page's request once more, with a fresh meta (no retries spent), within the limit."""
        if not self.may_refetch(response):
            return None
        refetches = response.meta.get("refetches", 0)
        meta = {key: response.meta[key] for key in REFETCH_META if key in response.meta}
        url = (response.meta.get("redirect_urls") or [response.url])[0]  # before any redirect
        return response.request.replace(
            url=url, dont_filter=True, meta={**meta, "refetches": refetches + 1}
        )

    def first_listings(self, listing: ListingPage, page: int) -> Iterator[Request]:
        """From the first page of a numbered pager: the next K pages."""
        assert listing.next_url and listing.page_count  # numbered
        # Read here, not in from_crawler: settings_check names a bad value first.
        concurrency = max(1, self.crawler.settings.getint("CONCURRENT_REQUESTS"))
        per_page = max(1, len(listing.book_urls))
        step = self.lookahead or 1 + math.ceil(2 * concurrency / per_page)
        self.crawler.stats.set_value("books/listing_lookahead", step)
        for number in range(page + 1, min(page + step, listing.page_count) + 1):
            yield from self.numbered_listing(listing.next_url, number, listing.page_count, step)

    def next_listings(self, window: dict[str, Any] | None) -> Iterator[Request]:
        """Page n schedules page n + K, whatever became of page n itself."""
        if window and window.get("url"):
            number = window["page"] + window["step"]
            if number <= window["count"]:
                yield from self.numbered_listing(window["url"], number, window["count"],
                                                 window["step"])

    def numbered_listing(self, any_page_url: str, number: int, count: int,
                         step: int) -> Iterator[Request]:
        url = page_url(any_page_url, number)
        window = {"page": number, "count": count, "step": step, "url": url}
        yield from self.listing_request(url, window, priority=listing_priority(number, step))

    def listing_request(self, url: str, window: dict[str, Any], priority: int) -> Iterator[Request]:
        """The listing page's request, once per run.

        Resuming, listing pages bypass the duplicate filter (they may be marked
        seen though their books never came), so this run's own set keeps a page
        restored from JOBDIR, or a 'next' link pointing back, from coming twice.
        """
        if url in self.listings_scheduled:
            return
        self.listings_scheduled.add(url)
        yield Request(
            url,
            callback=self.parse_listing,
            errback=self.listing_failed,
            dont_filter=self.resumable,
            priority=priority,
            meta={"listing": window},
        )

    def parse_book(self, response: Response) -> Iterator[Any]:
        """A book page: its item (checked here when the page may be fetched again).

        @page catalogue/curly-mind_988/index.html
        @returns items 1 1
        @returns requests 0 0
        @scrapes url book_id upc title price availability rating category image_url
        """
        if not isinstance(response, HtmlResponse):
            # A PDF or an image where a book page should be: no use fetching it again.
            content_type = response.headers.get("Content-Type", b"").decode("latin-1")
            item = parse_book_page(Selector(text=""), response.url)
            Rejects.for_crawler(self.crawler).reject(item, ["not_html"], stage="malformed_page")
            self.logger.warning("book page %s is not HTML (%s): rejected", response.url,
                                content_type or "no Content-Type")
            return
        item = parse_book_page(response.selector, response.url)
        problems = item_problems(ItemAdapter(item), self.site_host)
        if self.ledger is not None and not response.meta.get("refetches"):
            self.ledger.book_checked(response.url, problems)  # the breaker's first pages
        refetch = self.refetch(response) if problems else None
        if refetch is not None:
            Rejects.for_crawler(self.crawler).reject(item, problems, stage="malformed_page",
                                                     given_up=False)
            self.logger.warning(
                "malformed book page %s (%s): fetching it again", response.url, problems[0]
            )
            yield refetch
            return
        if not problems:
            Checked.for_crawler(self.crawler).add(item)  # the validation pipeline trusts it
        yield item

    def request_failed(self, failure: Failure) -> None:
        """A book page that never reached its callback goes to the failures file."""
        record_lost_request(self.crawler, failure)

    def listing_failed(self, failure: Failure) -> Iterator[Request]:
        """A lost listing page goes to the failures file; the pages after it still come."""
        record_lost_request(self.crawler, failure)
        request = getattr(failure, "request", None)
        if request is not None:
            yield from self.after_lost_listing(request)

    def after_lost_listing(self, request: Request) -> Iterator[Request]:
        """The pages after a listing page that is lost for good (recorded by the caller)."""
        window = request.meta.get("listing")
        self.crawler.stats.inc_value(LISTINGS_LOST)
        if self.ledger is not None:
            self.ledger.listing_lost(window["page"] if window else None)
        if window and not window.get("url"):
            self.crawler.stats.inc_value("books/listing_chain_broken")
            self.logger.error("listing page %s lost and the site has no numbered pager: "
                              "the pages after it cannot be found", request.url)
        yield from self.next_listings(window)

    def start_failed(self, failure: Failure) -> None:
        """The start page could not be fetched: nothing else can be found."""
        reason = failure.getErrorMessage() or failure.type.__name__
        response = getattr(failure.value, "response", None)
        if response is not None:
            reason = f"HTTP {response.status}"
        self.fail_start(f"could not be fetched: {reason}")

    def fail_start(self, why: str) -> None:
        self.failure_message = f"start_url {self.start_url} {why}"
        self.logger.error(self.failure_message)
        # Consume the failure (no second traceback) and close with a clear reason.
        deferred_from_coro(self.crawler.engine.close_spider_async(reason="start_url_failed"))
