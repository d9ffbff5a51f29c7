"""Is this response or error a ban of the proxy, or the site having a bad moment?

scrapy-rotating-proxies 0.6.2 counts every status but 200/301/302 as a ban,
so a site's 503 or 429 (the site throttling everyone) kills healthy proxies.
Our policy, fitted to the site:

- the proxy's own failure (a ban of that proxy, whatever the site would say): it
  refused our credentials (407, or the bare 401 tinyproxy answers: this site asks no
  login; reason ``credentials/<status>``: the proxy middleware takes it out for good), its
  own error pages (a 502, 503 or 504 whose ``Server`` header is not the one the site's
  pages carry, or with RFC 9209's ``Proxy-Status``), a connection it refused; connections
  it dropped (``ResponseFailed``, lost, no answer: a site's reset looks the same through a
  proxy) ROTATING_PROXY_EMPTY_BODY_STRIKES times in a row.
- ban: a status in ROTATING_PROXY_BAN_STATUSES (a "forbidden"); a 200 page carrying
  one of ROTATING_PROXY_BAN_MARKERS (a "blocked" page); empty 200 bodies (except
  robots.txt) through the same proxy ROTATING_PROXY_EMPTY_BODY_STRIKES times
  in a row (one empty page may be the site's hiccup: it is retried, and the
  proxy keeps its state); failing to reach or talk to the proxy (refused,
  connect timeout, DNS, tunnel errors).
- not a ban: 429 and 503 (throttling: the retry middleware slows down and
  retries on the same pool), any other answer relayed by the proxy.
- unknown (proxy state unchanged): other 5xx, timeouts.

A ban sends the page to another proxy without spending its retries (the proxy
middleware retries it before the retry middleware sees it).

Settings (defaults in docs/settings.md):

- ``ROTATING_PROXY_BAN_STATUSES``: statuses that mean a ban.
- ``ROTATING_PROXY_BAN_MARKERS``: body texts that mean a ban, looked for in the first
  64 KiB of 200 bodies.
- ``ROTATING_PROXY_EMPTY_BODY_STRIKES``: empty pages in a row that ban a proxy.
- ``ROTATING_PROXY_BAN_POLICY``: the class that decides (``BanPolicy``, below).

Stats: ``bans/status/<code>``, ``bans/blocked_page``, ``bans/empty``, ``bans/error/<reason>``,
``bans/credentials/<code>``, ``bans/proxy_error/<code>``:
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
from twisted.web.client import ResponseFailed, ResponseNeverReceived

from booksscraper.compat import BAN
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
# Dropped by the proxy, or by the site behind it: a strike, not a ban at once.
CONNECTIONS_DROPPED = (ResponseFailed, ResponseNeverReceived, net.ConnectionLost)
# Answers that come from the proxy, not the site (see the module docstring).
CREDENTIALS_REJECTED = frozenset({401, 407})
GATEWAY_STATUSES = frozenset({502, 503, 504})
CREDENTIALS = "credentials/"


def rejected_credentials(reason: str | None) -> bool:
    """Whether a ban reason says the proxy refused our credentials (not a rest: an error)."""
    return bool(reason) and reason.startswith(CREDENTIALS)  # type: ignore[union-attr]


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
        # Empty pages and dropped connections through each proxy since its last real page.
        self.strikes: dict[str, int] = {}
        # The Server header of each site's own answers: a 5xx without it is the proxy's page.
        self.site_server: dict[str, bytes | None] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BanPolicy:
        s = crawler.settings
        statuses = {int(x) for x in text_list(s, "ROTATING_PROXY_BAN_STATUSES")}
        markers = [m.encode() for m in text_list(s, "ROTATING_PROXY_BAN_MARKERS")]
        strikes = whole_number(s, "ROTATING_PROXY_EMPTY_BODY_STRIKES", minimum=1)
        return cls(statuses, markers, strikes)

    def assess(self, request: Request, response: Response) -> tuple[bool | None, str | None]:
        """(ban?, reason): True, False or None (unknown); the reason is a stats key suffix."""
        via_proxy = bool(request.meta.get("proxy"))
        if via_proxy and response.status in CREDENTIALS_REJECTED:
            return True, f"{CREDENTIALS}{response.status}"
        if via_proxy and self._proxys_own_page(request, response):
            return True, f"proxy_error/{response.status}"
        if response.status < 500:
            self.site_server[_host(request)] = response.headers.get("Server")
        if response.status in self.ban_statuses:
            return True, f"status/{response.status}"
        if response.status == 200:
            if not response.body:
                return self._empty(request)
            self.strikes.pop(request.meta.get("proxy") or "", None)
            if any(marker in response.body[:MARKER_SCAN_BYTES] for marker in self.markers):
                return True, "blocked_page"
        if response.status in THROTTLE_STATUSES or response.status < 500:
            return False, None
        return None, None

    def _proxys_own_page(self, request: Request, response: Response) -> bool:
        if response.status not in GATEWAY_STATUSES:
            return False
        if b"Proxy-Status" in response.headers:
            return True
        host = _host(request)
        return host in self.site_server and response.headers.get("Server") != self.site_server[host]

    def _empty(self, request: Request) -> tuple[bool | None, str | None]:
        if is_robots_txt(request):
            return False, None
        return (True, "empty") if self._strike(request) else (None, None)

    def _strike(self, request: Request) -> bool:
        """One more strike against the request's proxy; True when they make a ban.

        Below the count it may be the site's bad moment: the retry middleware retries it.
        """
        proxy = request.meta.get("proxy") or ""
        streak = self.strikes[proxy] = self.strikes.get(proxy, 0) + 1
        if streak < self.empty_strikes:
            return False
        del self.strikes[proxy]
        return True

    def response_is_ban(self, request: Request, response: Response) -> bool | None:
        return self.assess(request, response)[0]

    def exception_is_ban(self, request: Request, exception: BaseException) -> bool | None:
        if isinstance(exception, PROXY_FAILURES):
            return True
        if isinstance(exception, CONNECTIONS_DROPPED) and request.meta.get("proxy"):
            return True if self._strike(request) else None
        return None


class BanDetectionMiddleware:
    """Sets ``request.meta[BAN]`` (True, False or None) for the proxy middleware.

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
        request.meta[BAN] = ban
        request.meta[BAN_REASON_META] = (reason or f"status/{response.status}") if ban else None
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        spider = self.crawler.spider
        is_ban = getattr(spider, "exception_is_ban", self.policy.exception_is_ban)
        ban = is_ban(request, exception)
        request.meta[BAN] = ban
        request.meta[BAN_REASON_META] = f"error/{failure_reason(exception)}" if ban else None
        return None


def _host(request: Request) -> str:
    return urlsplit(request.url).hostname or ""
