"""Requests that end without a page: each one recorded with its reason, never silent.

Scrapy lets some requests vanish quietly: a page over ``DOWNLOAD_MAXSIZE``
(a traceback in the log, nothing else), a gzip bomb, a redirect chain over
``REDIRECT_MAX_TIMES``, a redirect off the site (a DEBUG line), an HTTP error
that is not retried, a redirect back to a URL already seen (the duplicate
filter drops it). Each of these becomes a line of the failures file
(``booksscraper.records.failures``), a WARNING and a stat ``lost/<reason>``:

- ``record_lost_request`` is the errback of the spider's requests. Requests
  already in the failures file (the retry middleware marks them with
  ``failures.RECORDED``; a middleware that drops one it wrote raises
  ``failures.RequestRecorded``) are not written twice.
- ``LostRequests`` (an extension, enabled by the BooksStack add-on) handles
  what Scrapy drops before download, where no errback runs: a redirected
  request the scheduler drops as a duplicate (``redirect_loop`` when it points
  back into its own redirect chain, else ``redirect_to_seen_url``), and a
  redirect off the spider's ``allowed_domains`` (``offsite_redirect``; it
  also drops one that Scrapy's OffsiteMiddleware would let through because
  the request bypasses filters). Both are retried from the original URL, then
  handed to the request's errback (``fail_request``), so the spider's own
  bookkeeping (the listing window) runs as for any failure. A link off the
  site is recorded (``offsite``).

Reasons: ``maxsize`` (the body is over DOWNLOAD_MAXSIZE), ``maxsize_decompressed``
(over it once decompressed), ``redirect_max``, ``offsite_redirect``, ``offsite``, ``robots_txt``,
``http_<status>``, ``redirect_loop``, ``redirect_to_seen_url``,
``not_a_listing`` (the spider), else the download error's short name
(``booksscraper.middlewares.backoff.failure_reason``).

Retried dropped redirects spend the retry middleware's ``RETRY_TIMES``, like a 503.
"""

from __future__ import annotations

import logging

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.spider import iterate_spider_output
from twisted.python.failure import Failure

from booksscraper.compat import ignored_reason, over_maxsize
from booksscraper.middlewares.backoff import failure_reason
from booksscraper.middlewares.retry import BackoffRetryMiddleware
from booksscraper.output.folder import OutputFolder
from booksscraper.records.credentials import mask_credentials
from booksscraper.records.failures import RECORDED, Failures, is_recorded

logger = logging.getLogger(__name__)



def lost_reason(exception: BaseException, request: Request | None = None) -> str:
    if isinstance(exception, RequestDropped):
        return exception.reason
    if isinstance(exception, HttpError):
        return f"http_{exception.response.status}"
    if over_maxsize(exception):
        return "maxsize"
    if isinstance(exception, IgnoreRequest):
        reason = ignored_reason(exception) or "ignored"
        if reason == "redirect_max" and request is not None:
            chain = request.meta.get("redirect_urls") or []
            if len(set(chain)) < len(chain) or request.url in chain:
                return "redirect_loop"  # the same page again and again, not a long chain
        return reason
    return failure_reason(exception)


def record_lost(crawler: Crawler, request: Request, reason: str, detail: str) -> None:
    if request.meta.get(RECORDED):
        return
    request.meta[RECORDED] = True
    assert crawler.stats is not None
    crawler.stats.inc_value(f"lost/{reason}")
    # The page the crawl wanted, not where its redirects ended.
    url = (request.meta.get("redirect_urls") or [request.url])[0]
    if url != request.url:
        detail = f"{detail}; redirected to {request.url}"
    proxy = request.meta.get("proxy")
    # Said only when it is true: `scrapy parse`, `check`... write nothing (OUTPUT_ENABLED).
    written = "written to the failures file" if OutputFolder.for_crawler(crawler).enabled \
        else "not written: output is off"
    logger.warning(
        "Lost %(url)s: %(reason)s (%(detail)s); %(written)s",
        {"url": url, "reason": reason, "detail": mask_credentials(detail), "written": written},
    )
    attempts = request.meta.get("retry_times", 0) + 1
    Failures.for_crawler(crawler).record(url, reason, attempts, proxy)


def record_lost_request(crawler: Crawler, failure: Failure) -> None:
    """Errback body: write the failed request to the failures file, once."""
    request = getattr(failure, "request", None)
    if request is None and isinstance(failure.value, HttpError):
        request = failure.value.response.request
    if request is None:
        logger.error("A request failed and Scrapy did not say which: %s", failure.value)
        return
    if is_recorded(request, failure.value):
        request.meta[RECORDED] = True
        return
    detail = failure.getErrorMessage() or failure.type.__name__
    record_lost(crawler, request, lost_reason(failure.value, request), detail)


class RequestDropped(IgnoreRequest):
    """A request the engine dropped before it was downloaded; ``reason`` says why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def fail_request(crawler: Crawler, request: Request, exception: Exception) -> None:
    """Hand ``request`` to its errback as failed, as Scrapy does for a download error.

    For requests Scrapy drops without calling the errback: the spider's errback records
    the request and schedules what must come after it (the listing window's next page).
    """
    if request.errback is None:
        record_lost(crawler, request, lost_reason(exception), str(exception))
        return
    failure = Failure(exception)
    failure.request = request  # type: ignore[attr-defined]  # as Scrapy sets it for errbacks
    assert crawler.engine is not None
    for output in iterate_spider_output(request.errback(failure)) or ():
        if isinstance(output, Request):
            crawler.engine.crawl(output)
        else:
            logger.error("An errback returned %r for dropped %s; ignored", output, request)


class LostRequests:
    """Requests Scrapy drops before download: retried like a failed download, then failed.

    A redirect the duplicate filter drops (a loop, or a page already seen) and a redirect
    off the site may be one-time accidents of the site, like a 503: the original URL is tried
    again through the retry middleware, with its backoff and its ``RETRY_TIMES``. Given up,
    the request goes to its errback, which records it and keeps the listing window going. A
    plain link off the site is recorded.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        crawler.signals.connect(self._request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(self._request_scheduled, signal=signals.request_scheduled)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LostRequests:
        return cls(crawler)

    def _request_dropped(self, request: Request) -> None:
        chain = request.meta.get("redirect_urls")
        if not chain:
            return  # a plain duplicate link: the page is (or was) fetched through its first copy
        reason = "redirect_loop" if request.url in chain else "redirect_to_seen_url"
        self._retry_or_fail(request, reason, "dropped as a duplicate")

    def _request_scheduled(self, request: Request) -> None:
        # The same test as Scrapy's OffsiteMiddleware, which drops the request on this signal;
        # but a redirect never leaves the site, even from a request that bypasses the filters
        # (Scrapy lets a dont_filter request's redirects go anywhere).
        redirected = bool(request.meta.get("redirect_urls"))
        if request.meta.get("allow_offsite") or (request.dont_filter and not redirected):
            return
        allowed = getattr(self.crawler.spider, "allowed_domains", None)
        host = (urlparse_cached(request).hostname or "").lower()
        if not allowed or any(host == d or host.endswith(f".{d}") for d in map(str.lower, allowed)):
            return
        if not redirected:
            record_lost(self.crawler, request, "offsite", "a link off the site")
            return
        self._retry_or_fail(request, "offsite_redirect", "off the site")
        raise IgnoreRequest("a redirect off the site")

    def _retry_or_fail(self, redirected: Request, reason: str, detail: str) -> None:
        """The redirect's original request once more, or (retries spent) to its errback."""
        original = redirected.replace(
            url=redirected.meta["redirect_urls"][0],
            dont_filter=True,
            meta={k: v for k, v in redirected.meta.items() if not k.startswith("redirect_")},
        )
        retry = self.crawler.get_downloader_middleware(BackoffRetryMiddleware)
        again = (
            retry.retry_dropped(original, reason, retry.max_retry_times)
            if retry is not None else None
        )
        if again is not None:
            assert self.crawler.engine is not None
            self.crawler.engine.crawl(again)
            return
        detail = f"{detail}; redirected to {redirected.url}"
        fail_request(self.crawler, original, RequestDropped(reason, detail))
