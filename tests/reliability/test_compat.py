"""The Scrapy (and stdlib) behaviours booksscraper.compat depends on or works around.

Each test pins today's behaviour: an upgrade that changes it (or fixes a bug we work
around) fails here, and the compat function (or the workaround) must be revisited.
Crawl-level proof of the same behaviours: tests/spider/test_per_slot_limit.py (the
burst bug, with Scrapy's downloader as control), tests/reliability/test_storm_and_stop.py
(Scrapy waits out hung downloads without ``abort_client_connections``),
tests/reliability/test_hostile_pages.py (``over_maxsize``).
"""

from __future__ import annotations

import gzip
import inspect
import os
from concurrent.futures import ProcessPoolExecutor

import pytest
import scrapy.core.downloader
import scrapy.downloadermiddlewares.robotstxt as robotstxt
from scrapy import Request, Spider
from scrapy.core.downloader import Downloader, Slot
from scrapy.core.engine import ExecutionEngine, _Slot
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.downloadermiddlewares.httpproxy import HttpProxyMiddleware
from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.test import get_crawler
from twisted.internet.defer import Deferred

import booksscraper.compat as compat
from booksscraper.compat import (
    ROBOTS_LOGGER,
    PerSlotLimitDownloader,
    executor_processes,
    ignored_reason,
)


def _raised(call) -> IgnoreRequest:
    with pytest.raises(IgnoreRequest) as raised:
        call()
    return raised.value


def test_scrapy_ignore_request_messages_name_their_reason() -> None:
    """IgnoreRequest has no subclasses: only these messages tell the cases apart."""
    crawler = get_crawler(Spider, {"REDIRECT_MAX_TIMES": 1, "DOWNLOAD_MAXSIZE": 1000})
    crawler.spider = Spider("s", allowed_domains=["site.test"])

    redirect = RedirectMiddleware.from_crawler(crawler)
    looped = Request("http://site.test/a", meta={"redirect_times": 1, "redirect_ttl": 5})
    moved = Response(looped.url, status=302, headers={"Location": "/b"}, request=looped)
    too_many = _raised(lambda: redirect.process_response(looped, moved))
    assert str(too_many) == "max redirections reached"

    offsite = OffsiteMiddleware.from_crawler(crawler)
    offsite.spider_opened(crawler.spider)
    elsewhere = _raised(lambda: offsite.process_request(Request("http://other.test/")))
    assert str(elsewhere) == "Filtered offsite request to 'other.test'"

    compression = HttpCompressionMiddleware.from_crawler(crawler)
    bomb = Request("http://site.test/bomb")
    body = gzip.compress(b"0" * 100_000)
    zipped = Response(bomb.url, body=body, headers={"Content-Encoding": "gzip"}, request=bomb)
    decompressed = _raised(lambda: compression.process_response(bomb, zipped))
    assert str(decompressed).endswith("exceeded DOWNLOAD_MAXSIZE (1000 B) during decompression.")

    # Raised in a coroutine that needs the engine; its text is pinned by the source.
    assert 'raise IgnoreRequest("Forbidden by robots.txt")' in inspect.getsource(robotstxt)

    reasons = [ignored_reason(e) for e in (too_many, elsewhere, decompressed)]
    assert reasons == ["redirect_max", "offsite", "maxsize_decompressed"]
    assert ignored_reason(IgnoreRequest("Forbidden by robots.txt")) == "robots_txt"
    assert ignored_reason(IgnoreRequest("something new")) is None
    assert ignored_reason(ValueError("offsite")) is None


def test_robots_txt_download_errors_are_logged_with_their_traceback_on_that_logger() -> None:
    """What extensions/quietlogs.py filters: the module's logger, exc_info=True."""
    assert robotstxt.logger.name == ROBOTS_LOGGER
    source = inspect.getsource(robotstxt.RobotsTxtMiddleware.robot_parser)
    assert '"Error downloading %(request)s: %(f_exception)s"' in source
    assert "exc_info=True" in source


def test_the_engine_keeps_requests_in_progress_closing_and_nextcall_on_its_private_slot() -> None:
    """What engine_closing, requests_in_progress and wake_engine read (Scrapy has no API)."""
    assert "self._slot: _Slot | None = None" in inspect.getsource(ExecutionEngine.__init__)
    slot = inspect.getsource(_Slot)
    for attribute in ("self.closing", "self.inprogress", "self.nextcall"):
        assert attribute in slot
    assert "self.inprogress.add(request)" in slot  # add_request, from download...
    assert "self.inprogress.remove(request)" in slot  # ...to its output processed
    with pytest.raises(RuntimeError, match=r"engine\._slot"):
        compat.check_engine(None)
    assert not compat.engine_closing(None)
    assert compat.requests_in_progress(None) == []


def test_process_pool_executor_keeps_its_workers_in_a_private_dict() -> None:
    with ProcessPoolExecutor(max_workers=1) as executor:
        pid = executor.submit(os.getpid).result()
        assert [p.pid for p in executor_processes(executor)] == [pid]
    assert executor_processes(None) == []


def _pop_burst(downloader_cls: type[Downloader], monkeypatch: pytest.MonkeyPatch) -> int:
    """Requests one call of ``_process_queue`` hands out of a slot of concurrency 2."""
    started = []

    def schedule(coro) -> None:  # the download task, not run: as within one loop turn
        started.append(coro)
        coro.close()

    monkeypatch.setattr(scrapy.core.downloader, "_schedule_coro", schedule)
    monkeypatch.setattr(compat, "_schedule_coro", schedule)
    downloader = downloader_cls.__new__(downloader_cls)  # no crawler: only the queue runs
    downloader._entered = {}  # what our __init__ sets up (when each request arrived)
    slot = Slot(concurrency=2, delay=0, jitter=0)
    for i in range(5):
        slot.queue.append((Request(f"http://site.test/{i}"), Deferred()))
    downloader._process_queue(slot)
    return len(started)


def test_scrapy_hands_a_whole_burst_past_the_per_slot_limit(monkeypatch) -> None:
    """The bug of docs/upstream-per-slot-concurrency.md; when Scrapy fixes it, drop ours."""
    assert _pop_burst(Downloader, monkeypatch) == 5  # Scrapy 2.19: all of them
    assert _pop_burst(PerSlotLimitDownloader, monkeypatch) == 2  # ours: the slot's concurrency


def test_the_http_cache_middleware_serves_its_stored_page_when_a_download_fails() -> None:
    """What ``CACHED_RESPONSE`` names: the page HttpCacheMiddleware revalidates, served in
    place of a failed download (booksscraper.incremental.fetch removes it first)."""
    from scrapy.downloadermiddlewares.httpcache import HttpCacheMiddleware
    from scrapy.settings import Settings
    from twisted.internet.error import ConnectionRefusedError

    from booksscraper.compat import CACHED_RESPONSE

    crawler = get_crawler(Spider)
    crawler.stats.open_spider()
    settings = Settings({"HTTPCACHE_ENABLED": True,
                         "HTTPCACHE_POLICY": "scrapy.extensions.httpcache.RFC2616Policy"})
    middleware = HttpCacheMiddleware(settings, crawler.stats)
    request = Request("https://books.toscrape.com/")
    stored = Response(request.url, body=b"stored")
    request.meta[CACHED_RESPONSE] = stored
    assert middleware.process_exception(request, ConnectionRefusedError()) is stored


def test_http_proxy_middleware_keeps_a_header_only_for_the_proxy_named_in_auth_proxy() -> None:
    """What set_proxy_credentials keeps in step: HttpProxyMiddleware's ``_auth_proxy``."""
    middleware = HttpProxyMiddleware.from_crawler(get_crawler(Spider))
    request = Request("http://site.test/", meta={"proxy": "http://127.0.0.1:1"})
    compat.set_proxy_credentials(request, "http://127.0.0.1:1", b"Basic eDp5")
    middleware.process_request(request)
    assert request.headers["Proxy-Authorization"] == b"Basic eDp5"  # ours, left alone
    request.meta["proxy"] = "http://127.0.0.1:2"  # a retry on another proxy, not told
    middleware.process_request(request)
    assert b"Proxy-Authorization" not in request.headers  # never sent to another proxy
    compat.set_proxy_credentials(request, "http://127.0.0.1:2", None)
    assert "_auth_proxy" not in request.meta
