"""One DEBUG log line per download attempt: what was fetched, through what, how.

``GET https://… status=200 latency=123ms retry=0 proxy=http://user:***@host:8080 ua=Chrome``

It sits next to the downloader (order 950, after every middleware that sets the
proxy, the User-Agent or retry counters), so it logs every attempt, retries
included, with the raw status before any middleware acts on it. Proxy
credentials are never logged: ``user:pass@`` becomes ``user:***@``
(``booksscraper.records.credentials``), and headers are not logged at all.
Failed attempts are logged with the exception class instead of a status.

Logger ``booksscraper.middlewares.requestlog``: silence it with
``LOG_LEVEL = "INFO"`` (the project default) or by name. Below DEBUG the
middleware is not loaded at all: Scrapy's log handler would drop each line
after it was built. No settings of its own.
"""

from __future__ import annotations

import logging
import re

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.settings import default_settings

from booksscraper.config.readers import log_level_setting
from booksscraper.records.credentials import mask_proxy

logger = logging.getLogger(__name__)

# Browser UAs all start with "Mozilla/5.0": the family is the last distinctive
# token. Checked in order because Edge also says Chrome and Chrome says Safari.
_BROWSER_TOKENS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
)
_PRODUCT = re.compile(r"^\s*([A-Za-z][\w.-]*)")


def ua_family(user_agent: str | None) -> str:
    """A short name for a User-Agent: ``Chrome``, ``Firefox``, ``booksscraper``, ``-``."""
    if not user_agent:
        return "-"
    if user_agent.startswith("Mozilla/"):
        for token, family in _BROWSER_TOKENS:
            if token in user_agent:
                return family
        return "Mozilla"
    match = _PRODUCT.match(user_agent)
    return match.group(1).split("/")[0] if match else "other"


class RequestLogMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        level = log_level_setting(settings, "LOG_LEVEL", default_settings.LOG_LEVEL)
        if not settings.getbool("LOG_ENABLED") or level > logging.DEBUG:
            raise NotConfigured
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RequestLogMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        if logger.isEnabledFor(logging.DEBUG):
            self._log(request, f"status={response.status}")
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            self._log(request, f"error={type(exception).__name__}")

    def _log(self, request: Request, outcome: str) -> None:
        latency = request.meta.get("download_latency")
        proxy = request.meta.get("proxy")
        user_agent = request.headers.get("User-Agent")
        logger.debug(
            "%s %s %s latency=%s retry=%d proxy=%s ua=%s",
            request.method,
            request.url,
            outcome,
            f"{latency * 1000:.0f}ms" if latency is not None else "-",
            request.meta.get("retry_times", 0),
            mask_proxy(proxy) or "-",
            ua_family(user_agent.decode("latin-1") if user_agent else None),
        )
