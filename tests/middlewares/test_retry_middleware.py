"""The retry middleware's decisions on single requests: overrides, Retry-After, budget."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from scrapy import Request, Spider
from scrapy.exceptions import DownloadTimeoutError
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from booksscraper.middlewares.retry import BackoffRetryMiddleware
from booksscraper.pacing.holder import NOT_BEFORE


@pytest.fixture
def make_mw(tmp_path: Path):
    def make(**settings: object) -> BackoffRetryMiddleware:
        crawler = get_crawler(Spider, {"OUTPUT_DIR": str(tmp_path), **settings})
        crawler.spider = Spider.from_crawler(crawler, "books")  # what get_retry_request reads
        crawler.stats.open_spider()
        return BackoffRetryMiddleware.from_crawler(crawler)

    return make


def response(status: int, headers: dict[str, str] | None = None) -> HtmlResponse:
    return HtmlResponse("http://site/a", status=status, body=b"<html></html>", headers=headers)


def test_retry_waits_outside_and_counts(make_mw) -> None:
    mw = make_mw(RETRY_BACKOFF_BASE=4, RETRY_BACKOFF_CAP=4)
    before = time.time()
    retry = mw.process_response(Request("http://site/a"), response(500))
    assert isinstance(retry, Request) and retry.dont_filter
    assert retry.meta["retry_times"] == 1
    assert before <= retry.meta[NOT_BEFORE] <= time.time() + 4
    assert mw.stats.get_value("retry/reason_count/http_500") == 1


def test_meta_overrides(make_mw) -> None:
    mw = make_mw(RETRY_BACKOFF_BASE=100, RETRY_BACKOFF_CAP=100)
    fast = Request("http://site/a", meta={"backoff_base": 0, "backoff_cap": 0})
    retry = mw.process_response(fast, response(502))
    assert retry.meta[NOT_BEFORE] <= time.time()
    assert (
        mw.process_response(
            Request("http://site/a", meta={"dont_retry": True}), response(502)
        ).status
        == 502
    )
    last = Request("http://site/a", meta={"max_retry_times": 1, "retry_times": 1})
    assert mw.process_exception(last, DownloadTimeoutError("slow")) is None
    assert mw.stats.get_value("retry/given_up/timeout") == 1


def test_retry_after_raises_the_delay_up_to_its_cap(make_mw) -> None:
    mw = make_mw(RETRY_BACKOFF_BASE=0, RETRY_AFTER_MAX=5)
    asked = mw.process_response(Request("http://site/a"), response(429, {"Retry-After": "3"}))
    assert asked.meta[NOT_BEFORE] - time.time() == pytest.approx(3, abs=0.5)
    capped = mw.process_response(Request("http://site/a"), response(503, {"Retry-After": "3600"}))
    assert capped.meta[NOT_BEFORE] - time.time() == pytest.approx(5, abs=0.5)


def test_partial_and_empty_responses_are_retried(make_mw) -> None:
    mw = make_mw()
    partial = HtmlResponse("http://site/a", body=b"<html><bo", flags=["partial"])
    assert isinstance(mw.process_response(Request("http://site/a"), partial), Request)
    empty = HtmlResponse("http://site/a", body=b"")
    assert isinstance(mw.process_response(Request("http://site/a"), empty), Request)
    robots = HtmlResponse("http://site/robots.txt", body=b"")
    assert mw.process_response(Request("http://site/robots.txt"), robots) is robots
    assert mw.stats.get_value("retry/reason_count/data_loss") == 1
    assert mw.stats.get_value("retry/reason_count/empty_body") == 1


def test_throttling_answers_do_not_spend_the_retry_budget(make_mw) -> None:
    mw = make_mw(RETRY_BUDGET_RATIO=0, RETRY_BUDGET_MIN=1)
    for _ in range(5):  # the server sets the pace: always retried
        assert isinstance(mw.process_response(Request("http://site/a"), response(429)), Request)
    paced = response(503, {"Retry-After": "1"})
    assert isinstance(mw.process_response(Request("http://site/a"), paced), Request)
    assert isinstance(mw.process_response(Request("http://site/a"), response(503)), Request)
    assert mw.process_response(Request("http://site/a"), response(503)).status == 503
    assert mw.stats.get_value("retry/budget/exhausted") == 1


def test_scrapy_s_get_retry_request_does_the_bookkeeping(make_mw, caplog) -> None:
    """Priority, counts and the give-up line are Scrapy's; the give-up level per request."""
    mw = make_mw(RETRY_TIMES=1, RETRY_PRIORITY_ADJUST=-3, RETRY_BACKOFF_BASE=0)
    retry = mw.process_response(Request("http://site/a", priority=10), response(500))
    assert retry.priority == 7 and retry.meta["retry_times"] == 1
    last = Request("http://site/a", meta={"retry_times": 1, "give_up_log_level": "WARNING"})
    with caplog.at_level("DEBUG", logger="booksscraper.middlewares.retry"):
        assert mw.process_response(last, response(500)).status == 500
    gave_up = [r for r in caplog.records if r.getMessage().startswith("Gave up retrying")]
    assert [r.levelname for r in gave_up] == ["WARNING"]
    assert mw.stats.get_value("retry/max_reached") == 1
    assert mw.stats.get_value("retry/count") == 1
    assert mw.stats.get_value("retry/given_up/http_500") == 1
