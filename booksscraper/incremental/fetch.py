"""Fetching only what changed: Scrapy's HTTP cache middleware, revalidating every page.

``ConditionalFetch`` is Scrapy's ``HttpCacheMiddleware`` with ``RevalidatePolicy``: every
request goes out with the stored ETag / Last-Modified (``If-None-Match`` /
``If-Modified-Since``) and a 304 hands the stored page to the spider, which yields the
same item again. Pages without validators are not stored and are fetched in full.

Where pages are kept: ``JsonCacheStorage`` (Scrapy's filesystem storage, metadata as JSON)
in ``STATE_DIR/httpcache`` for a single-process crawl; ``RedisCacheStorage`` on a cluster
(``REDIS_URL``), one hash per page under ``INCREMENTAL_REDIS_KEY``, shared by every worker.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.httpcache import HttpCacheMiddleware
from scrapy.exceptions import NotConfigured
from scrapy.extensions.httpcache import FilesystemCacheStorage, RFC2616Policy
from scrapy.http import Response
from scrapy.settings import BaseSettings, Settings
from scrapy.spiders import Spider
from scrapy.utils.response import response_from_dict
from w3lib.http import headers_dict_to_raw, headers_raw_to_dict

from booksscraper.config.readers import boolean, text
from booksscraper.incremental.state import CACHE_DIR, enabled, on_cluster, state_dir
from booksscraper.output.errors import OutputError, stop_on_output_error

logger = logging.getLogger(__name__)


class RevalidatePolicy(RFC2616Policy):
    """RFC2616Policy that asks the server every time, and trusts only a 304.

    - A stored page is never fresh: every request goes out, with the stored
      ETag / Last-Modified. The site sends no Cache-Control or Expires, so
      RFC2616Policy would fall back to a heuristic (a tenth of the time since
      Last-Modified) and serve pages from the cache without asking: a re-crawl
      would miss changes.
    - Only a 304 reuses the stored page: RFC2616Policy also reuses it on a 5xx,
      which would hide a failed page behind old data.
    """

    def is_cached_response_fresh(self, cachedresponse: Response, request: Request) -> bool:
        self._set_conditional_validators(request, cachedresponse)
        return False

    def is_cached_response_valid(self, cachedresponse: Response, response: Response,
                                 request: Request) -> bool:
        return response.status == 304


def _meta(request: Request, response: Response) -> dict[str, Any]:
    return {"url": request.url, "method": request.method, "status": response.status,
            "response_url": response.url, "timestamp": time.time()}


def _response(request: Request, meta: dict[str, Any], headers: bytes, body: bytes) -> Response:
    request.meta["cache_timestamp"] = meta["timestamp"]
    return response_from_dict({"url": meta["response_url"], "status": meta["status"],
                               "headers": headers_raw_to_dict(headers), "body": body})


class JsonCacheStorage(FilesystemCacheStorage):
    """Scrapy's filesystem cache storage (same folders, same files), without pickle.

    Scrapy's keeps metadata pickled and unpickles it on every read: whoever can write
    to the output folder could run code in the crawl. Here the metadata is JSON
    (``meta.json``, written last, so a torn entry is a miss) and the response class
    is guessed from the headers as Scrapy does for entries without one.
    """

    def retrieve_response(self, spider: Spider, request: Request) -> Response | None:
        folder = Path(self._get_request_path(spider, request))
        try:
            with self._open(folder / "meta.json", "rb") as f:
                meta = json.loads(f.read())
            with self._open(folder / "response_headers", "rb") as f:
                headers = f.read()
            with self._open(folder / "response_body", "rb") as f:
                body = f.read()
        except FileNotFoundError:
            return None
        return _response(request, meta, headers, body)

    def store_response(self, spider: Spider, request: Request, response: Response) -> None:
        folder = Path(self._get_request_path(spider, request))
        folder.mkdir(parents=True, exist_ok=True)
        with self._open(folder / "response_headers", "wb") as f:
            f.write(headers_dict_to_raw(response.headers))
        with self._open(folder / "response_body", "wb") as f:
            f.write(response.body)
        with self._open(folder / "meta.json", "wb") as f:
            f.write(json.dumps(_meta(request, response)).encode())


class RedisCacheStorage:
    """The same entries in Redis, for a cluster: every worker revalidates every page.

    One hash per page (``meta`` as JSON, ``headers``, ``body``), key
    ``INCREMENTAL_REDIS_KEY:<request fingerprint>``, written in one command. It outlives the
    crawl's own keys (``books:*``), which are deleted before the next crawl.
    """

    def __init__(self, settings: BaseSettings) -> None:
        self.settings = settings
        self.server: Any = None
        self.prefix = ""

    def open_spider(self, spider: Spider) -> None:
        from scrapy_redis.connection import get_redis_from_settings

        self.server = get_redis_from_settings(self.settings)
        self.prefix = text(self.settings, "INCREMENTAL_REDIS_KEY") % {"spider": spider.name}
        self._fingerprinter = spider.crawler.request_fingerprinter
        logger.debug("Using the Redis page cache under %s:*", self.prefix)

    def close_spider(self, spider: Spider) -> None:
        pass

    def _key(self, request: Request) -> str:
        return f"{self.prefix}:{self._fingerprinter.fingerprint(request).hex()}"

    def retrieve_response(self, spider: Spider, request: Request) -> Response | None:
        entry = self.server.hgetall(self._key(request))
        if not entry or not {b"meta", b"headers", b"body"} <= entry.keys():
            return None
        return _response(request, json.loads(entry[b"meta"]), entry[b"headers"], entry[b"body"])

    def store_response(self, spider: Spider, request: Request, response: Response) -> None:
        self.server.hset(self._key(request), mapping={
            "meta": json.dumps(_meta(request, response)),
            "headers": headers_dict_to_raw(response.headers) or b"",
            "body": response.body,
        })


class ConditionalFetch(HttpCacheMiddleware):
    """Scrapy's HTTP cache middleware on the incremental state, with ``RevalidatePolicy``.

    On for ``INCREMENTAL`` and ``INCREMENTAL_CONDITIONAL``, whatever ``HTTPCACHE_ENABLED``
    says (that switch stays Scrapy's own cache, for development). Unlike Scrapy's, a
    download error is an error: the stored page is not served in its place.
    """

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalFetch:
        settings = crawler.settings
        if not enabled(settings) or not boolean(settings, "INCREMENTAL_CONDITIONAL"):
            raise NotConfigured
        if settings.getbool("HTTPCACHE_ENABLED"):
            logger.warning("HTTPCACHE_ENABLED is set: Scrapy's HTTP cache is used as configured, "
                           "and incremental crawls send no conditional requests of their own")
            raise NotConfigured
        ours = Settings(settings.copy_to_dict())  # the crawler's are frozen
        ours.set("HTTPCACHE_ENABLED", True)
        ours.set("HTTPCACHE_POLICY", f"{__name__}.RevalidatePolicy")
        if on_cluster(settings):
            ours.set("HTTPCACHE_STORAGE", f"{__name__}.RedisCacheStorage")
        else:
            ours.set("HTTPCACHE_STORAGE", f"{__name__}.JsonCacheStorage")
            ours.set("HTTPCACHE_DIR", str((state_dir(settings) / CACHE_DIR).resolve()))
        ours.set("HTTPCACHE_IGNORE_MISSING", False)
        ours.set("HTTPCACHE_EXPIRATION_SECS", 0)
        o = cls(ours, crawler.stats)
        crawler.signals.connect(o.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(o.spider_closed, signal=signals.spider_closed)
        o.crawler = crawler
        return o

    def _cache_response(self, response: Response, request: Request) -> None:
        try:
            super()._cache_response(response, request)
        except OSError as exc:  # the cache is in OUTPUT_DIR: a full disk stops the crawl (exit 4)
            where = getattr(self.storage, "cachedir", "the page cache")
            stop_on_output_error(self.crawler, OutputError(where, exc))

    def process_exception(self, request: Request, exception: Exception,  # type: ignore[override]
                          spider: Any = None) -> None:
        request.meta.pop("cached_response", None)
        return None
