"""Is this response or error a ban of the proxy, or the site having a bad moment?

scrapy-rotating-proxies 0.6.2 counts every status but 200/301/302 as a ban,
so a site's 503 or 429 (the site throttling everyone) kills healthy proxies.
Our policy, fitted to the site:

- ban: a status in ROTATING_PROXY_BAN_STATUSES (403); a 200 page carrying one
  of ROTATING_PROXY_BAN_MARKERS (a "blocked" page); an empty 200 body (except
  robots.txt); failing to reach or talk to the proxy (refused, connect
  timeout, DNS, tunnel errors).
- not a ban: 429 and 503 (throttling: the retry middleware slows down and
  retries on the same pool), any other answer relayed by the proxy.
- unknown (proxy state unchanged): other 5xx (the proxy's own "cannot reach
  upstream" page looks the same as the site's error), timeouts and
  connections lost mid-response (the site may have reset them).

Settings (defaults in brackets):

- ``ROTATING_PROXY_BAN_STATUSES`` [[403]]
- ``ROTATING_PROXY_BAN_MARKERS`` [["SANDBOX-BLOCKED", "<title>Access denied</title>"]]:
  looked for in the first 64 KiB of 200 bodies.
- ``ROTATING_PROXY_BAN_POLICY`` [``booksscraper.middlewares.bans.BanPolicy``].

Stats: ``bans/status/<code>``, ``bans/blocked_page``, ``bans/empty``, ``bans/error/<reason>``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from rotating_proxies.middlewares import BanDetectionMiddleware as _PackageBanDetection
from scrapy import Request
from scrapy.core.downloader.handlers.http11 import TunnelError
from scrapy.crawler import Crawler
from scrapy.exceptions import CannotResolveHostError, DownloadConnectionRefusedError, NotConfigured
from scrapy.http import Response
from scrapy.utils.misc import load_object
from twisted.internet import error as net

from booksscraper.middlewares.backoff import failure_reason

MARKER_SCAN_BYTES = 64 * 1024
DEFAULT_MARKERS = ["SANDBOX-BLOCKED", "<title>Access denied</title>"]
THROTTLING = {429, 503}
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
    def __init__(self, ban_statuses: set[int], markers: list[bytes]) -> None:
        self.ban_statuses = ban_statuses
        self.markers = markers

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BanPolicy:
        s = crawler.settings
        statuses = {int(x) for x in s.getlist("ROTATING_PROXY_BAN_STATUSES", [403])}
        markers = [m.encode() for m in s.getlist("ROTATING_PROXY_BAN_MARKERS", DEFAULT_MARKERS)]
        return cls(statuses, markers)

    def ban_reason(self, request: Request, response: Response) -> str | None:
        """Why ``response`` is a ban (a stats key suffix), or None."""
        if response.status in self.ban_statuses:
            return f"status/{response.status}"
        if response.status == 200:
            if not response.body:
                return None if is_robots_txt(request) else "empty"
            head = response.body[:MARKER_SCAN_BYTES]
            if any(marker in head for marker in self.markers):
                return "blocked_page"
        return None

    def response_is_ban(self, request: Request, response: Response) -> bool | None:
        if self.ban_reason(request, response):
            return True
        if response.status in THROTTLING or response.status < 500:
            return False
        return None

    def exception_is_ban(self, request: Request, exception: BaseException) -> bool | None:
        return True if isinstance(exception, PROXY_FAILURES) else None


class BanDetectionMiddleware(_PackageBanDetection):
    """Sets ``request.meta["_ban"]`` (True, False or None) for the proxy middleware."""

    def __init__(self, crawler: Crawler, policy: BanPolicy) -> None:
        super().__init__(crawler.stats, policy)
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BanDetectionMiddleware:
        # Imported here: proxies.py imports this module.
        from booksscraper.middlewares.proxies import configured_proxies

        if not configured_proxies(crawler.settings):
            raise NotConfigured("no proxies configured")
        policy_cls = load_object(crawler.settings.get("ROTATING_PROXY_BAN_POLICY") or BanPolicy)
        policy = (
            policy_cls.from_crawler(crawler)
            if hasattr(policy_cls, "from_crawler")
            else policy_cls()
        )
        return cls(crawler, policy)

    def process_response(self, request: Request, response: Response) -> Response:  # type: ignore[override]
        spider = self.crawler.spider
        is_ban = getattr(spider, "response_is_ban", self.policy.response_is_ban)
        ban = is_ban(request, response)
        request.meta["_ban"] = ban
        if ban:
            reason = getattr(self.policy, "ban_reason", lambda *_: None)(request, response)
            self.stats.inc_value(f"bans/{reason or f'status/{response.status}'}")
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:  # type: ignore[override]
        spider = self.crawler.spider
        is_ban = getattr(spider, "exception_is_ban", self.policy.exception_is_ban)
        ban = is_ban(request, exception)
        request.meta["_ban"] = ban
        if ban:
            self.stats.inc_value(f"bans/error/{failure_reason(exception)}")
        return None
