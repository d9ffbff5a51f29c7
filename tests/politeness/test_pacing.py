"""The site pacer's decisions on single requests: keyed by the site, held outside, slowed by 429."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from booksscraper.pacing.holder import HELD_BY, NOT_BEFORE
from booksscraper.pacing.pacer import OWNER, PACING_AT, SitePacer


@pytest.fixture
def make_pacer(tmp_path: Path):
    def make(**settings: object) -> SitePacer:
        crawler = get_crawler(settings_dict={"OUTPUT_DIR": str(tmp_path), **settings})
        crawler.stats.open_spider()
        return SitePacer.from_crawler(crawler)

    return make


def send(pacer: SitePacer, request: Request) -> Request | None:
    """The pacer's decision on one request: None (it goes now) or the request, held."""
    return asyncio.run(pacer.process_request(request))


def via(url: str, proxy: str) -> Request:
    """A request as the proxy middleware leaves it: its own download slot per proxy."""
    return Request(url, meta={"proxy": proxy, "download_slot": proxy})


def test_requests_through_different_proxies_share_the_sites_pace(make_pacer) -> None:
    pacer = make_pacer(POLITENESS_MAX_RPS=4)
    assert send(pacer, via("http://site/a", "http://127.0.0.1:1")) is None
    held = send(pacer, via("http://site/b", "http://127.0.0.1:2"))
    # Held outside the downloader: it comes back through the scheduler.
    assert isinstance(held, Request) and held.dont_filter and held.meta[HELD_BY] == OWNER
    assert held.meta[NOT_BEFORE] - time.time() == pytest.approx(0.25, abs=0.05)
    later = send(pacer, via("http://site/c", "http://127.0.0.1:3"))
    assert later.meta[NOT_BEFORE] - time.time() == pytest.approx(0.5, abs=0.05)
    # Another site has its own schedule.
    assert send(pacer, via("http://other/a", "http://127.0.0.1:2")) is None


def test_a_held_request_goes_at_its_reserved_time_without_reserving_again(make_pacer) -> None:
    pacer = make_pacer(POLITENESS_MAX_RPS=10)
    send(pacer, Request("http://site/a"))
    held = send(pacer, Request("http://site/b"))
    time.sleep(max(0.0, held.meta[NOT_BEFORE] - time.time()))
    assert send(pacer, held) is None
    assert PACING_AT not in held.meta and HELD_BY not in held.meta
    assert pacer.in_flight("site") == 2


def test_throttling_slows_the_site_then_successes_bring_it_back(make_pacer) -> None:
    pacer = make_pacer(RETRY_SLOWDOWN_MIN=0.5, RETRY_SLOWDOWN_MAX=4, RETRY_SLOWDOWN_RECOVERY=0.5)

    def answer(status: int, proxy: str = "http://127.0.0.1:1") -> None:
        request = via("http://site/a", proxy)
        pacer.response_downloaded(HtmlResponse(request.url, status=status), request)

    answer(429)
    assert pacer.interval("site") == 0.5
    answer(503, "http://127.0.0.1:2")  # the same overload, in flight through another proxy
    assert pacer.interval("site") == 0.5
    pacer.site("site").last_raise -= 10  # an interval later the site still says "too fast"
    answer(503)
    assert pacer.interval("site") == 1.0
    intervals = []
    for _ in range(10):
        answer(200)
        intervals.append(pacer.interval("site"))
    assert intervals[:3] == [0.5, 0.25, 0.125]  # step by step
    assert intervals[-1] == 0.0 and pacer.stats.get_value("retry/slowdown/recovered") == 1


def test_the_adaptive_cap_holds_requests_until_a_slot_frees(make_pacer) -> None:
    pacer = make_pacer()
    pacer.set_adaptive("site", concurrency=1, pace=0.0)
    first = Request("http://site/a")
    assert send(pacer, first) is None
    waiting = send(pacer, Request("http://site/b"))
    assert isinstance(waiting, Request) and pacer.stats.get_value("pacing/held_for_concurrency")
    pacer.process_response(first, HtmlResponse(first.url))
    assert pacer.in_flight("site") == 0
    assert send(pacer, waiting) is None


def test_late_requests_coming_back_together_still_leave_an_interval_apart(make_pacer) -> None:
    """The spacing rule: requests that missed their send times do not go in a bunch."""
    pacer = make_pacer(POLITENESS_MAX_RPS=10)  # 0.1 s between sends
    assert send(pacer, Request("http://site/a")) is None
    first, second = send(pacer, Request("http://site/b")), send(pacer, Request("http://site/c"))
    time.sleep(max(0.0, second.meta[NOT_BEFORE] - time.time()) + 0.15)  # both are late now
    assert send(pacer, first) is None
    again = send(pacer, second)  # due long ago, but the last send was just now
    assert isinstance(again, Request)
    assert again.meta[NOT_BEFORE] - time.time() == pytest.approx(0.1, abs=0.03)
    assert pacer.stats.get_value("pacing/spaced") == 1


def test_a_cluster_request_that_missed_its_send_time_reserves_again_once(
    make_pacer, redis_server
) -> None:
    """With the schedule in Redis, a late send takes a new turn in the cluster's schedule."""
    pacer = make_pacer(POLITENESS_MAX_RPS=10, REDIS_URL=redis_server.url)
    assert send(pacer, Request("http://late.cluster.test/a")) is None
    late = send(pacer, Request("http://late.cluster.test/b"))
    time.sleep(max(0.0, late.meta[NOT_BEFORE] - time.time()) + 0.15)  # > CLUSTER_LATENESS late
    assert send(pacer, late) is None  # its new turn is now
    assert pacer.stats.get_value("pacing/reserved_again") == 1
    # The turn it took is in the shared schedule: the next request waits an interval for it.
    after = send(pacer, Request("http://late.cluster.test/c"))
    assert isinstance(after, Request)
    assert after.meta[NOT_BEFORE] - time.time() == pytest.approx(0.1, abs=0.03)
    # Reserved again once, not twice: once more late, it keeps the turn it has.
    time.sleep(max(0.0, after.meta[NOT_BEFORE] - time.time()) + 0.15)
    after.meta[PACING_AT][1] = True
    assert send(pacer, after) is None
    assert pacer.stats.get_value("pacing/reserved_again") == 1
