"""Is this response or error a ban of the proxy, or the site having a bad moment?

scrapy-rotating-proxies 0.6.2 counts every status but 200/301/302 as a ban,
so a site's 503 or 429 (the site throttling everyone) kills healthy proxies.
Our policy, fitted to the site:

- ban: a status in ROTATING_PROXY_BAN_STATUSES (a "forbidden"); a 200 page carrying
  one of ROTATING_PROXY_BAN_MARKERS (a "blocked" page); empty 200 bodies (except
  robots.txt) through the same proxy ROTATING_PROXY_EMPTY_BODY_STRIKES times
  in a row (one empty page may be the site's hiccup: it is retried, and the
  proxy keeps its state); failing to reach or talk to the proxy (refused,
  connect timeout, DNS, tunnel errors).
- not a ban: 429 and 503 (throttling: the retry middleware slows down and
  retries on the same pool), any other answer relayed by the proxy.
- unknown (proxy state unchanged): other 5xx (the proxy's own "cannot reach
  upstream" page looks the same as the site's error), timeouts and
  connections lost mid-response (the site may have reset them).

Settings (defaults in docs/settings.md):

- ``ROTATING_PROXY_BAN_STATUSES``: statuses that mean a ban.
- ``ROTATING_PROXY_BAN_MARKERS``: body texts that mean a ban, looked for in the first
  64 KiB of 200 bodies.
- ``ROTATING_PROXY_EMPTY_BODY_STRIKES``: empty pages in a row that ban a proxy.
- ``ROTATING_PROXY_BAN_POLICY``: the class that decides (``BanPolicy``, below).

Stats: ``bans/status/<code>``, ``bans/blocked_page``, ``bans/empty``, ``bans/error/<reason>``:
counted by the proxy middleware once per death of a proxy (the failures of the
other requests in flight through it belong to the same outage); this
middleware only records the reason in ``meta["_ban_reason"]``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import TunnelError
from scrapy.crawler import Crawler
from scrapy.exceptions import CannotResolveHostError, DownloadConnectionRefusedError, NotConfigured
from scrapy.http import Response
from scrapy.utils.misc import load_object
from twisted.internet import error as net

from booksscraper.config.declared import default
from booksscraper.config.readers import text, text_list, whole_number
from booksscraper.middlewares.backoff import THROTTLE_STATUSES, failure_reason
from booksscraper.proxies.sources import configured_proxies

MARKER_SCAN_BYTES = 64 * 1024
BAN_REASON_META = "_ban_reason"
PROXY_FAILURES = (
    DownloadConnectionRefusedError,
    net.ConnectionRefusedError,
    net.TCPTimedOutError,
    CannotResolveHostError,
    net.DNSLookupError,
    TunnelError,
)


def is_robots_txt(request: Request) -> bool:
    return urlsplit(request.url).path == "/robots.txt"


class BanPolicy:
    def __init__(
        self,
        ban_statuses: set[int],
        markers: list[bytes],
        empty_strikes: int = default("ROTATING_PROXY_EMPTY_BODY_STRIKES"),
    ) -> None:
        self.ban_statuses = ban_statuses
        self.markers = markers
        self.empty_strikes = empty_strikes
        # Empty pages through each proxy since its last real page.
        self.empty_streak: dict[str, int] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BanPolicy:
        s = crawler.settings
        statuses = {int(x) for x in text_list(s, "ROTATING_PROXY_BAN_STATUSES")}
        markers = [m.encode() for m in text_list(s, "ROTATING_PROXY_BAN_MARKERS")]
        strikes = whole_number(s, "ROTATING_PROXY_EMPTY_BODY_STRIKES", minimum=1)
        return cls(statuses, markers, strikes)

    def assess(self, request: Request, response: Response) -> tuple[bool | None, str | None]:
        """(ban?, reason): True, False or None (unknown); the reason is a stats key suffix."""
        if response.status in self.ban_statuses:
            return True, f"status/{response.status}"
        if response.status == 200:
            if not response.body:
                return self._empty(request)
            self.empty_streak.pop(request.meta.get("proxy") or "", None)
            if any(marker in response.body[:MARKER_SCAN_BYTES] for marker in self.markers):
                return True, "blocked_page"
        if response.status in THROTTLE_STATUSES or response.status < 500:
            return False, None
        return None, None

    def _empty(self, request: Request) -> tuple[bool | None, str | None]:
        if is_robots_txt(request):
            return False, None
        proxy = request.meta.get("proxy") or ""
        streak = self.empty_streak[proxy] = self.empty_streak.get(proxy, 0) + 1
        if streak < self.empty_strikes:
            return None, None  # maybe the site's bad moment: the retry middleware retries it
        del self.empty_streak[proxy]
        return True, "empty"

    def response_is_ban(self, request: Request, response: Response) -> bool | None:
        return self.assess(request, response)[0]

    def exception_is_ban(self, request: Request, exception: BaseException) -> bool | None:
        return True if isinstance(exception, PROXY_FAILURES) else None


class BanDetectionMiddleware:
    """Sets ``request.meta["_ban"]`` (True, False or None) for the proxy middleware.

    As the package's middleware of the same name does (a spider's ``response_is_ban`` /
    ``exception_is_ban`` win over the policy), without being built on it.
    """

    def __init__(self, crawler: Crawler, policy: BanPolicy) -> None:
        self.crawler = crawler
        self.policy = policy

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BanDetectionMiddleware:
        s = crawler.settings
        if not configured_proxies(s):
            raise NotConfigured  # no proxies, no bans to detect
        policy_cls = load_object(text(s, "ROTATING_PROXY_BAN_POLICY") or BanPolicy)
        policy = (
            policy_cls.from_crawler(crawler)
            if hasattr(policy_cls, "from_crawler")
            else policy_cls()
        )
        return cls(crawler, policy)

    def process_response(self, request: Request, response: Response) -> Response:
        spider_rule = getattr(self.crawler.spider, "response_is_ban", None)
        assess = getattr(self.policy, "assess", None)
        if spider_rule is None and assess is not None:
            ban, reason = assess(request, response)
        else:
            ban, reason = (spider_rule or self.policy.response_is_ban)(request, response), None
        request.meta["_ban"] = ban
        request.meta[BAN_REASON_META] = (reason or f"status/{response.status}") if ban else None
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        spider = self.crawler.spider
        is_ban = getattr(spider, "exception_is_ban", self.policy.exception_is_ban)
        ban = is_ban(request, exception)
        request.meta["_ban"] = ban
        request.meta[BAN_REASON_META] = f"error/{failure_reason(exception)}" if ban else None
        return None
