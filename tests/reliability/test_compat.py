"""The Scrapy (and stdlib) behaviours booksscraper.compat depends on or works around.

Each test pins today's behaviour: an upgrade that changes it (or fixes a bug we work
around) fails here, and the compat function (or the workaround) must be revisited.
Crawl-level proof of the same behaviours: tests/spider/test_per_slot_limit.py (the
burst bug, with Scrapy's downloader as control), tests/reliability/test_storm_and_stop.py
(Scrapy waits out hung downloads without ``abort_client_connections``),
tests/reliability/test_hostile_pages.py (``over_maxsize``).
"""

from __future__ import annotations

import asyncio
import gzip
import os
from concurrent.futures import ProcessPoolExecutor

import pytest
import scrapy.core.downloader
import scrapy.downloadermiddlewares.robotstxt as robotstxt
from scrapy import Request, Spider
from scrapy.core.downloader import Downloader, Slot
from scrapy.core.engine import ExecutionEngine, _Slot
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.robotstxt import ProtegoRobotParser
from scrapy.utils.reactor import CallLaterOnce
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
    """IgnoreRequest has no subclasses (Scrapy 2.19): only these messages tell the cases apart."""
    crawler = get_crawler(
        Spider, {"REDIRECT_MAX_TIMES": 1, "DOWNLOAD_MAXSIZE": 1000, "ROBOTSTXT_OBEY": True}
    )
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

    robots = robotstxt.RobotsTxtMiddleware.from_crawler(crawler)
    disallowed = ProtegoRobotParser.from_crawler(crawler, b"User-agent: *\nDisallow: /")
    forbidden = _raised(
        lambda: robots.process_request_2(disallowed, Request("http://site.test/a"))
    )
    assert str(forbidden) == "Forbidden by robots.txt"

    reasons = [ignored_reason(e) for e in (too_many, elsewhere, decompressed, forbidden)]
    assert reasons == ["redirect_max", "offsite", "maxsize_decompressed", "robots_txt"]
    assert ignored_reason(IgnoreRequest("something new")) is None
    assert ignored_reason(ValueError("offsite")) is None


def test_robots_txt_download_errors_are_logged_with_their_traceback_on_that_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What extensions/quietlogs.py filters (Scrapy 2.19): one ERROR with exc_info, that logger."""

    class Refusing:  # the engine as RobotsTxtMiddleware uses it: only its download fails
        async def download_async(self, request: Request) -> Response:
            raise ConnectionRefusedError("nobody listens")

    crawler = get_crawler(Spider, {"ROBOTSTXT_OBEY": True})
    crawler.engine = Refusing()  # type: ignore[assignment]
    robots = robotstxt.RobotsTxtMiddleware.from_crawler(crawler)
    with caplog.at_level("ERROR", logger=ROBOTS_LOGGER):
        parser = asyncio.run(robots.robot_parser(Request("http://site.test/a")))
    assert parser is None  # Scrapy goes on as if there were no robots.txt
    (record,) = caplog.records
    assert record.name == ROBOTS_LOGGER and record.levelname == "ERROR"
    assert record.getMessage().startswith("Error downloading <GET http://site.test/a>")
    assert record.exc_info is not None


class _RecordedNextCall(CallLaterOnce):
    """The engine's nextcall, recording each time it is scheduled instead of running."""

    def __init__(self) -> None:
        super().__init__(lambda: None)
        self.scheduled = 0

    def schedule(self, delay: float = 0) -> None:
        self.scheduled += 1


def test_the_engine_keeps_requests_in_progress_closing_and_nextcall_on_its_private_slot() -> None:
    """What engine_closing, requests_in_progress and wake_engine read (Scrapy 2.19, no API)."""

    async def scenario() -> None:  # the engine wants a running loop
        engine = ExecutionEngine(get_crawler(Spider), lambda spider: None)
        assert engine._slot is None  # until a spider opens
        assert not compat.engine_closing(engine) and compat.requests_in_progress(engine) == []
        with pytest.raises(RuntimeError, match=r"engine\._slot"):
            compat.check_engine(engine)
        nextcall = _RecordedNextCall()
        engine._slot = slot = _Slot(True, nextcall, scheduler=None)  # type: ignore[arg-type]
        compat.check_engine(engine)
        request = Request("http://site.test/a")
        slot.add_request(request)  # what the engine does from download...
        assert compat.requests_in_progress(engine) == [request]
        compat.wake_engine(engine)
        assert nextcall.scheduled == 1
        closing = asyncio.ensure_future(slot.close())  # closing: waits for what is in progress
        await asyncio.sleep(0)
        assert compat.engine_closing(engine) and not closing.done()
        compat.wake_engine(engine)
        assert nextcall.scheduled == 1  # not woken while closing
        slot.remove_request(request)  # ...to its output processed: the close completes
        assert compat.requests_in_progress(engine) == []
        await asyncio.wait_for(closing, 5)

    asyncio.run(scenario())


def test_schedule_coro_runs_a_coroutine_as_a_task_of_the_running_loop() -> None:
    """scrapy.utils.defer._schedule_coro (Scrapy 2.19), behind compat.schedule_coro."""
    ran: list[str] = []

    async def work() -> None:
        ran.append("done")

    async def scenario() -> None:
        compat.schedule_coro(work())
        assert ran == []  # fire and forget: not run in the caller's turn
        await asyncio.sleep(0.01)
        assert ran == ["done"]

    asyncio.run(scenario())


def test_process_pool_executor_keeps_its_workers_in_a_private_dict() -> None:
    """ProcessPoolExecutor._processes (CPython 3.11; there since 3.2), behind executor_processes."""
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
