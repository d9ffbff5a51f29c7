"""Each failed request is written once to failures.jsonl, known by type or flag, never by text."""

from __future__ import annotations

import inspect
from pathlib import Path

from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from booksscraper.output.jsonlines import read_json_lines
from booksscraper.records import lost
from booksscraper.records.failures import RECORDED, Failures, RequestRecorded, is_recorded


def crawler_in(tmp_path: Path):
    crawler = get_crawler(settings_dict={"OUTPUT_DIR": str(tmp_path)})
    crawler.stats.open_spider()
    return crawler


def failed(request: Request, exception: Exception) -> Failure:
    failure = Failure(exception)
    failure.request = request  # as Scrapy sets it for errbacks
    return failure


def written(crawler, tmp_path: Path) -> list[dict]:
    Failures.for_crawler(crawler)._close()
    return read_json_lines(tmp_path / "failures.jsonl")


def test_a_request_dropped_as_recorded_is_written_once(tmp_path: Path) -> None:
    # What a middleware does when it gives up on a request (all proxies dead): write, then drop.
    crawler = crawler_in(tmp_path)
    request = Request("http://books.example/a")
    Failures.for_crawler(crawler).record(request.url, "all_proxies_dead", 1)
    lost.record_lost_request(crawler, failed(request, RequestRecorded("all proxies are dead")))
    assert [(r["url"], r["reason"]) for r in written(crawler, tmp_path)] == [
        (request.url, "all_proxies_dead")
    ]
    assert request.meta[RECORDED] is True


def test_record_request_marks_the_request_and_the_errback_skips_it(tmp_path: Path) -> None:
    crawler = crawler_in(tmp_path)
    request = Request("http://books.example/b", meta={"retry_times": 2})
    failures = Failures.for_crawler(crawler)
    failures.record_request(request, "all_proxies_dead")
    failures.record_request(request, "all_proxies_dead")  # a second call writes nothing
    lost.record_lost_request(crawler, failed(request, IgnoreRequest("whatever the text")))
    assert [(r["reason"], r["attempts"]) for r in written(crawler, tmp_path)] == [
        ("all_proxies_dead", 3)
    ]
    assert crawler.stats.get_value("ledger/failed") == 1


def test_an_unrecorded_ignored_request_is_written_by_the_errback(tmp_path: Path) -> None:
    crawler = crawler_in(tmp_path)
    request = Request("http://books.example/c")
    assert not is_recorded(request, IgnoreRequest("all proxies are dead"))
    lost.record_lost_request(crawler, failed(request, IgnoreRequest("something")))
    assert [r["reason"] for r in written(crawler, tmp_path)] == ["ignored"]


def test_our_own_drops_are_not_told_apart_by_their_message() -> None:
    # Only Scrapy's IgnoreRequest messages are matched (it has no types for them).
    assert "proxies" not in inspect.getsource(lost)
    assert RequestRecorded.__mro__[1] is IgnoreRequest
