"""Requests that end without a page: each one recorded with its reason, never silent.

Scrapy lets some requests vanish quietly: a page over ``DOWNLOAD_MAXSIZE``
(a traceback in the log, nothing else), a gzip bomb, a redirect chain over
``REDIRECT_MAX_TIMES``, a redirect off the site (a DEBUG line), an HTTP error
that is not retried, a redirect back to a URL already seen (the duplicate
filter drops it). Each of these becomes a line of the failures file
(``booksscraper.failures``), a WARNING and a stat ``lost/<reason>``:

- ``record_lost_request`` is the errback of the spider's requests. Requests
  the retry middleware gave up on are in the failures file already (it marks
  them with ``meta["failure_recorded"]``) and are not written twice.
- ``LostRequests`` (an extension, enabled by the BooksStack add-on) records
  what is dropped before it is scheduled, where no errback runs: a redirected
  request the scheduler drops as a duplicate (``redirect_loop`` when it points
  back into its own redirect chain, else ``redirect_to_seen_url``), and a
  request off the spider's ``allowed_domains``, which Scrapy's
  OffsiteMiddleware drops (``offsite_redirect``, or ``offsite`` for a link).
  It does not drop anything itself.

Reasons: ``maxsize`` (the body is over DOWNLOAD_MAXSIZE), ``maxsize_decompressed``
(over it once decompressed), ``redirect_max``, ``offsite_redirect``, ``offsite``, ``robots_txt``,
``all_proxies_dead``, ``http_<status>``, ``redirect_loop``, ``redirect_to_seen_url``,
else the download error's short name (``booksscraper.middlewares.backoff.failure_reason``).
No settings.
"""

from __future__ import annotations

import logging

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.httpobj import urlparse_cached
from twisted.python.failure import Failure

from booksscraper.failures import Failures
from booksscraper.middlewares.backoff import failure_reason
from booksscraper.middlewares.masking import mask_credentials

logger = logging.getLogger(__name__)

RECORDED = "failure_recorded"
# IgnoreRequest carries no type of its own: Scrapy's messages tell the cases apart.
_IGNORED = (
    ("during decompression", "maxsize_decompressed"),
    ("max redirections", "redirect_max"),
    ("offsite", "offsite"),
    ("robots.txt", "robots_txt"),
    ("all proxies dead", "all_proxies_dead"),
)


def lost_reason(exception: BaseException) -> str:
    if isinstance(exception, HttpError):
        return f"http_{exception.response.status}"
    if isinstance(exception, DownloadCancelledError) and "max size" in str(exception):
        return "maxsize"
    if isinstance(exception, IgnoreRequest):
        message = str(exception)
        for text, reason in _IGNORED:
            if text in message:
                return reason
        return "ignored"
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
    logger.warning(
        "Lost %(url)s: %(reason)s (%(detail)s); written to the failures file",
        {"url": url, "reason": reason, "detail": mask_credentials(detail)},
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
    detail = failure.getErrorMessage() or failure.type.__name__
    record_lost(crawler, request, lost_reason(failure.value), detail)


class LostRequests:
    """Records requests dropped before scheduling: redirect loops, off-site redirects."""

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
        record_lost(self.crawler, request, reason, "dropped as a duplicate")

    def _request_scheduled(self, request: Request) -> None:
        # The same test as Scrapy's OffsiteMiddleware, which drops the request on this signal.
        if request.dont_filter or request.meta.get("allow_offsite"):
            return
        allowed = getattr(self.crawler.spider, "allowed_domains", None)
        host = (urlparse_cached(request).hostname or "").lower()
        if not allowed or any(host == d or host.endswith(f".{d}") for d in map(str.lower, allowed)):
            return
        chain = request.meta.get("redirect_urls")
        if chain:
            record_lost(self.crawler, request, "offsite_redirect", "off the site")
        else:
            record_lost(self.crawler, request, "offsite", "a link off the site")
