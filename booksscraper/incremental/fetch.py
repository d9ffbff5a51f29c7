"""Fetching only what changed: Scrapy's HTTP cache middleware, revalidating every page.

``ConditionalFetch`` is Scrapy's ``HttpCacheMiddleware`` with ``RevalidatePolicy``: every
request goes out with the stored ETag / Last-Modified (``If-None-Match`` /
``If-Modified-Since``) and a 304 hands the stored page to the spider, which yields the
same item again. Pages without validators are not stored and are fetched in full.

Where pages are kept: ``SqliteCacheStorage``, one SQLite file in ``STATE_DIR/httpcache``,
for a single-process crawl; ``RedisCacheStorage`` on a cluster (``REDIS_URL``), one hash per
page under ``INCREMENTAL_REDIS_KEY``, shared by every worker. Neither pickles: Scrapy's own
storages keep metadata pickled and unpickle it on every read, so whoever can write to the
output folder (or Redis) could run code in the crawl. Scrapy's filesystem storage, with
JSON instead of pickle, cost a folder and three files a page: BENCHMARKS.md ("Incremental
re-crawls") has what the single file saves.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.httpcache import HttpCacheMiddleware
from scrapy.exceptions import NotConfigured
from scrapy.extensions.httpcache import RFC2616Policy
from scrapy.http import Response
from scrapy.settings import BaseSettings, Settings
from scrapy.spiders import Spider
from scrapy.utils.response import response_from_dict
from w3lib.http import headers_dict_to_raw, headers_raw_to_dict

from booksscraper.cluster.mode import is_cluster
from booksscraper.compat import CACHED_RESPONSE
from booksscraper.config.readers import boolean, text
from booksscraper.incremental.state import CACHE_DIR, enabled, state_dir
from booksscraper.output.errors import OutputError, stop_on_output_error

logger = logging.getLogger(__name__)

# A stored page's validator, and the request header that sends it back (RFC 9110).
VALIDATORS = ((b"ETag", b"If-None-Match"), (b"Last-Modified", b"If-Modified-Since"))


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
        for stored, asked in VALIDATORS:
            if stored in cachedresponse.headers:
                request.headers[asked] = cachedresponse.headers[stored]
        return False

    def is_cached_response_valid(self, cachedresponse: Response, response: Response,
                                 request: Request) -> bool:
        return response.status == 304


def damaged(exc: sqlite3.Error) -> bool:
    """Whether SQLite says the file is damaged (not a database, corrupt), not that a write
    failed (a full disk, no permission: exit 4)."""
    return getattr(exc, "sqlite_errorname", None) in ("SQLITE_CORRUPT", "SQLITE_NOTADB")


def _meta(request: Request, response: Response) -> dict[str, Any]:
    return {"url": request.url, "method": request.method, "status": response.status,
            "response_url": response.url, "timestamp": time.time()}


def _response(meta: dict[str, Any], headers: bytes, body: bytes) -> Response:
    return response_from_dict({"url": meta["response_url"], "status": meta["status"],
                               "headers": headers_raw_to_dict(headers), "body": body})


class SqliteCacheStorage:
    """Pages in one SQLite file, ``pages.sqlite`` in ``HTTPCACHE_DIR``, keyed by fingerprint.

    Rows go in transactions of ``ROWS_PER_COMMIT``: a crash loses at most those pages'
    entries, which the next run fetches in full. A write that fails (a full disk) stops the
    crawl like any output file (exit 4).
    """

    FILE = "pages.sqlite"
    ROWS_PER_COMMIT = 100

    def __init__(self, settings: BaseSettings) -> None:
        self.cachedir = Path(settings["HTTPCACHE_DIR"])
        self.path = self.cachedir / self.FILE
        self.db: sqlite3.Connection | None = None
        self.uncommitted = 0

    def open_spider(self, spider: Spider) -> None:
        self.crawler = spider.crawler
        self._fingerprinter = spider.crawler.request_fingerprinter
        try:
            self.cachedir.mkdir(parents=True, exist_ok=True)
            self._connect()
        except sqlite3.Error as exc:
            self._sqlite_failed(exc)
        except OSError as exc:
            self._failed(exc)

    def _connect(self) -> None:
        self.db = sqlite3.connect(self.path)
        # WAL with synchronous=NORMAL: a commit is not an fsync; a power cut may lose the
        # last commits, which are cache entries (those pages come in full next time).
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS pages (fingerprint BLOB PRIMARY KEY, "
                        "meta TEXT NOT NULL, headers BLOB NOT NULL, body BLOB NOT NULL)")
        self.db.commit()

    def _close(self) -> None:
        if self.db is not None:
            with contextlib.suppress(sqlite3.Error):
                self.db.close()
        self.db = None

    def _set_aside(self, exc: sqlite3.Error) -> None:
        """A damaged cache is renamed (kept for a look) and a new one started: pages in full."""
        self._close()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = self.path.with_name(f"{self.FILE}.damaged-{stamp}")
        for suffix in ("", "-wal", "-shm"):  # a WAL left beside a new file would be replayed
            source = self.path.with_name(self.FILE + suffix)
            if source.exists():
                os.replace(source, aside.with_name(aside.name + suffix))
        logger.warning("incremental: damaged page cache %s (%s): set aside as %s; pages are "
                       "fetched in full this run", self.path, exc, aside)
        self.crawler.stats.set_value("incremental/cache_damaged", str(aside))

    def close_spider(self, spider: Spider) -> None:
        if self.db is not None:
            try:
                self.db.commit()
                self.db.close()
            except sqlite3.Error as exc:
                self._failed(exc)
            self.db = None

    def retrieve_response(self, spider: Spider, request: Request) -> Response | None:
        if self.db is None:
            return None
        try:
            row = self.db.execute("SELECT meta, headers, body FROM pages WHERE fingerprint = ?",
                                  (self._fingerprinter.fingerprint(request),)).fetchone()
        except sqlite3.Error as exc:
            self._sqlite_failed(exc)
            return None
        if row is None:
            return None
        return _response(json.loads(row[0]), row[1], row[2])

    def store_response(self, spider: Spider, request: Request, response: Response) -> None:
        if self.db is None:
            return
        try:
            self.db.execute(
                "INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?)",
                (self._fingerprinter.fingerprint(request), json.dumps(_meta(request, response)),
                 headers_dict_to_raw(response.headers) or b"", response.body),
            )
            self.uncommitted += 1
            if self.uncommitted >= self.ROWS_PER_COMMIT:
                self.db.commit()
                self.uncommitted = 0
        except sqlite3.Error as exc:
            self._sqlite_failed(exc)

    def _sqlite_failed(self, exc: sqlite3.Error) -> None:
        """A damaged cache is set aside and a new one started; anything else is a write error."""
        if not damaged(exc):
            self._failed(exc)
            return
        self._set_aside(exc)
        try:
            self._connect()
        except sqlite3.Error as again:
            self._failed(again)

    def _failed(self, exc: Exception) -> None:
        """The page cache lives in OUTPUT_DIR: a failed write stops the crawl (exit 4)."""
        self._close()
        stop_on_output_error(self.crawler, OutputError(self.path, OSError(str(exc))))


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
        self.redis_down: tuple[type[BaseException], ...] = ()

    def open_spider(self, spider: Spider) -> None:
        from scrapy_redis.connection import get_redis_from_settings

        from booksscraper.cluster.outage import REDIS_DOWN

        # Redis away: a miss, the page not stored (the scheduler tells the outage, once).
        self.redis_down = REDIS_DOWN
        self.server = get_redis_from_settings(self.settings)
        self.prefix = text(self.settings, "INCREMENTAL_REDIS_KEY") % {"spider": spider.name}
        self._fingerprinter = spider.crawler.request_fingerprinter
        logger.debug("Using the Redis page cache under %s:*", self.prefix)

    def close_spider(self, spider: Spider) -> None:
        pass

    def _key(self, request: Request) -> str:
        return f"{self.prefix}:{self._fingerprinter.fingerprint(request).hex()}"

    def retrieve_response(self, spider: Spider, request: Request) -> Response | None:
        try:
            entry = self.server.hgetall(self._key(request))
        except self.redis_down:
            return None
        if not entry or not {b"meta", b"headers", b"body"} <= entry.keys():
            return None
        return _response(json.loads(entry[b"meta"]), entry[b"headers"], entry[b"body"])

    def store_response(self, spider: Spider, request: Request, response: Response) -> None:
        with contextlib.suppress(self.redis_down):
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
        if is_cluster(settings):
            ours.set("HTTPCACHE_STORAGE", f"{__name__}.RedisCacheStorage")
        else:
            ours.set("HTTPCACHE_STORAGE", f"{__name__}.SqliteCacheStorage")
            ours.set("HTTPCACHE_DIR", str((state_dir(crawler) / CACHE_DIR).resolve()))
        ours.set("HTTPCACHE_IGNORE_MISSING", False)
        ours.set("HTTPCACHE_EXPIRATION_SECS", 0)
        o = cls(ours, crawler.stats)
        crawler.signals.connect(o.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(o.spider_closed, signal=signals.spider_closed)
        o.crawler = crawler
        return o

    def process_exception(self, request: Request, exception: Exception,  # type: ignore[override]
                          spider: Any = None) -> None:
        request.meta.pop(CACHED_RESPONSE, None)  # what Scrapy would serve in its place
        return None
