"""Retries with exponential backoff, Retry-After and a retry budget.

Replaces Scrapy's RetryMiddleware, whose retries go out again at once and
ignore Retry-After (scrapy/scrapy#3849), and builds on the same function,
Scrapy's ``get_retry_request`` (the retry's copy, ``retry_times``, priority,
``retry/count``, ``retry/reason_count/<reason>``, ``retry/max_reached`` and the
give-up line); around it, the retry budget before and the backoff delay after.
Enabled by the BooksStack add-on, which puts it at the stock one's place.

- Delay of retry ``n`` (0-based): random(0, min(cap, base * 2**n)) ("full
  jitter"); a ``Retry-After`` header (seconds or HTTP date) raises it to what
  the server asks, capped by RETRY_AFTER_MAX. The wait happens outside the
  downloader (see ``pacing/holder.py``), so other requests keep going meanwhile.
- A 429 or 503 says "too fast" for the whole site: the site pacer
  (``booksscraper/pacing/pacer.py``) slows the site down (RETRY_SLOWDOWN_*); this
  middleware only retries.
- Retries stay under RETRY_BUDGET_RATIO of the requests of the last
  RETRY_BUDGET_WINDOW seconds (at least RETRY_BUDGET_MIN), so a failing site
  does not get a retry storm. Throttling answers (429, or any answer with
  Retry-After) are exempt: the server set the pace, the site slows down, and
  giving up on them would lose pages of a site that is only asking us to wait.
- Giving up is logged once with the reason, counted (``retry/max_reached``,
  ``retry/budget/exhausted``, ``retry/given_up/<reason>``) and written to the
  failures file (``FAILURES_FILE``).
- Truncated responses are retried whether they arrive as ResponseDataLossError or,
  with DOWNLOAD_FAIL_ON_DATALOSS=False, as responses flagged "partial".

Settings (defaults in docs/settings.md):

- ``RETRY_ENABLED``, ``RETRY_HTTP_CODES``, ``RETRY_EXCEPTIONS``,
  ``RETRY_PRIORITY_ADJUST``, ``RETRY_GIVE_UP_LOG_LEVEL``: as in Scrapy.
- ``RETRY_TIMES``: retries per request (the add-on raises Scrapy's default, too few
  against a site that throttles).
- ``RETRY_BACKOFF_BASE`` and ``RETRY_BACKOFF_CAP``: the delay law's, in seconds.
- ``RETRY_AFTER_MAX``: the longest Retry-After we honour, in seconds.
- ``RETRY_EMPTY_BODY``: retry a 200 response with an empty body
  (never a real page of the site; robots.txt excepted).
- ``RETRY_BUDGET_RATIO``, ``RETRY_BUDGET_MIN``, ``RETRY_BUDGET_WINDOW``: the retry budget.

Each is checked when the crawl starts (one ``error:`` line, exit 2).

Per-request ``request.meta`` overrides: ``dont_retry``, ``max_retry_times``,
``backoff_base``, ``backoff_cap``, ``priority_adjust``, ``give_up_log_level``.

Stats: ``retry/count``, ``retry/reason_count/<reason>``, ``retry/backoff/count``,
``retry/backoff/seconds_total``, ``retry/backoff/seconds_max``,
``retry/backoff/max_waiting``, ``retry/retry_after/honoured``,
``retry/max_reached``,
``retry/budget/exhausted``, ``retry/given_up/<reason>``.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.settings import default_settings
from scrapy.utils.misc import load_object

from booksscraper.config.errors import BadConfig
from booksscraper.config.readers import (
    boolean,
    int_setting,
    log_level_setting,
    number,
    whole_number,
)
from booksscraper.middlewares.backoff import (
    RetryBudget,
    failure_reason,
    full_jitter_delay,
    parse_retry_after,
)
from booksscraper.pacing.holder import NOT_BEFORE, DelayedRequests
from booksscraper.records.credentials import mask_credentials
from booksscraper.records.failures import RECORDED, Failures

logger = logging.getLogger(__name__)


def exception_classes(settings_value: list) -> tuple[type[BaseException], ...]:
    """RETRY_EXCEPTIONS loaded: classes or import paths, each checked now."""
    classes = []
    for entry in settings_value:
        try:
            loaded = load_object(entry) if isinstance(entry, str) else entry
        except (ImportError, NameError, ValueError, AttributeError):
            loaded = None
        if not (isinstance(loaded, type) and issubclass(loaded, BaseException)):
            raise BadConfig(f"RETRY_EXCEPTIONS: not an exception class: {entry!r}")
        classes.append(loaded)
    return tuple(classes)


class BackoffRetryMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        if not s.getbool("RETRY_ENABLED"):
            raise NotConfigured
        self.crawler = crawler
        self.stats = crawler.stats
        self.max_retry_times = int_setting(s, "RETRY_TIMES", default_settings.RETRY_TIMES)
        try:
            self.retry_http_codes = {int(x) for x in s.getlist("RETRY_HTTP_CODES")}
        except ValueError:
            raise BadConfig(
                f"RETRY_HTTP_CODES: expected HTTP status codes, got {s.get('RETRY_HTTP_CODES')!r}"
            ) from None
        self.exceptions_to_retry = exception_classes(s.getlist("RETRY_EXCEPTIONS"))
        self.priority_adjust = int_setting(
            s, "RETRY_PRIORITY_ADJUST", default_settings.RETRY_PRIORITY_ADJUST, minimum=None
        )
        self.give_up_level = log_level_setting(
            s, "RETRY_GIVE_UP_LOG_LEVEL", default_settings.RETRY_GIVE_UP_LOG_LEVEL
        )
        self.backoff_base = number(s, "RETRY_BACKOFF_BASE")
        self.backoff_cap = number(s, "RETRY_BACKOFF_CAP")
        self.retry_after_max = number(s, "RETRY_AFTER_MAX")
        self.retry_empty_body = boolean(s, "RETRY_EMPTY_BODY")
        self.budget = RetryBudget(
            ratio=number(s, "RETRY_BUDGET_RATIO"),
            minimum=whole_number(s, "RETRY_BUDGET_MIN"),
            window=number(s, "RETRY_BUDGET_WINDOW", minimum=1.0),
        )
        self.delayed = DelayedRequests.for_crawler(crawler)  # holds each retry until it is due
        self.failures = Failures.for_crawler(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        return cls(crawler)

    # Each request is counted for the budget when it comes back (a response or an
    # exception: every request this middleware let through ends in one of the two), not
    # in a process_request of its own: one middleware call fewer per request.
    def process_response(self, request: Request, response: Response) -> Request | Response:
        self.budget.record_request()
        if request.meta.get("dont_retry", False):
            return response
        if response.status in self.retry_http_codes:
            return self._retry(request, f"http_{response.status}", response) or response
        if "partial" in response.flags:  # truncated, kept with DOWNLOAD_FAIL_ON_DATALOSS=False
            return self._retry(request, "data_loss", response) or response
        if (
            self.retry_empty_body
            and response.status == 200
            and not response.body
            and not urlsplit(request.url).path.endswith("/robots.txt")
        ):
            return self._retry(request, "empty_body", response) or response
        return response

    def process_exception(self, request: Request, exception: Exception) -> Request | None:
        self.budget.record_request()
        if isinstance(exception, self.exceptions_to_retry) and not request.meta.get("dont_retry"):
            return self._retry(request, failure_reason(exception))
        return None

    def retry_dropped(self, request: Request, reason: str, limit: int) -> Request | None:
        """A retry of a request Scrapy dropped before download, with backoff and budget.

        None once it was retried ``limit`` times: the caller records it (as lost).
        """
        if request.meta.get("retry_times", 0) >= limit:
            return None
        return self._retry(request, reason)

    def _retry(
        self, request: Request, reason: str, response: Response | None = None
    ) -> Request | None:
        meta = request.meta
        max_retry_times = meta.get("max_retry_times", self.max_retry_times)
        give_up_level = meta.get("give_up_log_level", self.give_up_level)
        if meta.get("retry_times", 0) >= max_retry_times:
            # Written down before Scrapy's give-up line: nothing after it can lose the failure.
            self._give_up(request, reason)
        elif not self._throttled(response) and not self.budget.try_spend():
            self.stats.inc_value("retry/budget/exhausted")
            self._give_up(request, reason)
            logger.log(
                logging.getLevelName(give_up_level) if isinstance(give_up_level, str)
                else give_up_level,  # a name in the request's meta, as Scrapy allows
                "Gave up retrying %(request)s (retry budget exhausted): %(reason)s",
                {"request": request, "reason": reason},
            )
            return None
        retry_request = get_retry_request(
            request,
            spider=self.crawler.spider,
            reason=reason,
            max_retry_times=max_retry_times,
            priority_adjust=meta.get("priority_adjust", self.priority_adjust),
            logger=logger,
            give_up_log_level=give_up_level,
        )
        if retry_request is not None:
            retry_request.meta[NOT_BEFORE] = time.time() + self._delay(request, response)
        return retry_request

    @staticmethod
    def _throttled(response: Response | None) -> bool:
        """The server set the pace (429, or any Retry-After): retried outside the budget."""
        return response is not None and (
            response.status == 429 or b"Retry-After" in response.headers
        )

    def _delay(self, request: Request, response: Response | None) -> float:
        """Seconds before the retry of ``request`` may leave: full jitter, raised by Retry-After."""
        delay = full_jitter_delay(
            request.meta.get("retry_times", 0),
            request.meta.get("backoff_base", self.backoff_base),
            request.meta.get("backoff_cap", self.backoff_cap),
        )
        if response is not None:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None:
                delay = max(delay, min(retry_after, self.retry_after_max))
                self.stats.inc_value("retry/retry_after/honoured")
        self.stats.inc_value("retry/backoff/count")
        self.stats.inc_value("retry/backoff/seconds_total", delay, start=0.0)
        self.stats.max_value("retry/backoff/seconds_max", delay)
        logger.debug(
            "Retry of %(request)s waits %(delay).2fs", {"request": request, "delay": delay}
        )
        return delay

    def _give_up(self, request: Request, reason: str) -> None:
        """Counted under ``retry/given_up/<reason>`` and written to the failures file."""
        proxy = request.meta.get("proxy")
        self.stats.inc_value(f"retry/given_up/{reason}")
        if proxy:
            logger.debug("Giving up on %s via %s", request, mask_credentials(proxy))
        self.failures.record(request.url, reason, request.meta.get("retry_times", 0) + 1, proxy)
        # Recorded: the spider's errback (booksscraper.lost) must not write it again.
        request.meta[RECORDED] = True
