"""The pieces of incremental crawls that need no crawl: comparison, summary, report, policy."""

from __future__ import annotations

from collections import Counter
from email.utils import formatdate

from scrapy import Request
from scrapy.extensions.httpcache import RFC2616Policy
from scrapy.http import HtmlResponse
from scrapy.settings import Settings

from booksscraper.incremental.changes import changed_fields, format_changes, report_section
from booksscraper.incremental.fetch import RevalidatePolicy


def test_changed_fields_ignores_scraped_at_and_near_duplicates() -> None:
    old = {"upc": "a", "price": "51.77", "rating": 3, "scraped_at": "t1", "near_duplicate_of": None,
           "gone": 1}
    new = {"upc": "a", "price": "45.00", "rating": 3, "scraped_at": "t2", "near_duplicate_of": "u"}
    assert changed_fields(old, new) == {"price": ["51.77", "45.00"], "gone": [1, None]}
    assert changed_fields(old, dict(old, scraped_at="t3")) == {}


def test_summary_line() -> None:
    counts = {"new": 12, "removed": 3, "changed": 41}
    fields = Counter({"availability": 14, "price": 30})
    assert format_changes(counts, fields) == (
        "12 new, 3 removed, 41 changed: price 30, availability 14")
    line = format_changes({"new": 0, "removed": 0, "changed": 0, "not_checked": 10}, Counter())
    assert line.startswith("0 new, 0 removed, 0 changed; 10 not checked")


def test_report_section() -> None:
    assert report_section({}) == []
    section = report_section({"changes/summary": "1 new, 0 removed, 1 changed: price 1",
                              "changes/field/price": 1})
    assert section[0] == "## Changes since the last run"
    assert "| price | 1 |" in section


def test_the_policy_always_asks_and_trusts_only_a_304() -> None:
    policy = RevalidatePolicy(Settings())
    url = "https://books.toscrape.com/"
    # A Last-Modified long ago: RFC2616Policy's heuristic would call this fresh for weeks.
    cached = HtmlResponse(url, body=b"<html></html>", headers={
        "ETag": '"abc"', "Last-Modified": "Mon, 01 Jan 2001 00:00:00 GMT",
        "Date": formatdate(usegmt=True)})
    assert RFC2616Policy(Settings()).is_cached_response_fresh(cached, Request(url))  # Scrapy's
    request = Request(url)
    assert not policy.is_cached_response_fresh(cached, request)
    assert request.headers[b"If-None-Match"] == b'"abc"'
    assert request.headers[b"If-Modified-Since"] == b"Mon, 01 Jan 2001 00:00:00 GMT"
    assert policy.is_cached_response_valid(cached, HtmlResponse(url, status=304), request)
    assert not policy.is_cached_response_valid(cached, HtmlResponse(url, status=500), request)
    assert policy.should_cache_response(cached, request)
    assert not policy.should_cache_response(HtmlResponse(url, body=b"x"), request)  # no validator


def test_the_cache_storage_keeps_pages_without_pickle(tmp_path) -> None:
    from scrapy import Spider
    from scrapy.utils.test import get_crawler

    from booksscraper.incremental.fetch import SqliteCacheStorage

    storage = SqliteCacheStorage(Settings({"HTTPCACHE_DIR": str(tmp_path)}))
    spider = Spider.from_crawler(get_crawler(Spider), name="books")
    storage.open_spider(spider)
    request = Request("https://books.toscrape.com/catalogue/page-2.html")
    assert storage.retrieve_response(spider, request) is None
    page = HtmlResponse(request.url, body="£51.77".encode(), status=200,
                        headers={"ETag": '"abc"', "Content-Type": "text/html"})
    storage.store_response(spider, request, page)
    again = storage.retrieve_response(spider, request)
    assert isinstance(again, HtmlResponse)
    assert (again.url, again.status, again.body) == (page.url, 200, page.body)
    assert again.headers[b"ETag"] == b'"abc"'
    storage.close_spider(spider)
    # One SQLite file, no pickle in it (JSON metadata, raw headers and body).
    assert {p.name for p in tmp_path.iterdir()} == {"pages.sqlite"}
    reopened = SqliteCacheStorage(Settings({"HTTPCACHE_DIR": str(tmp_path)}))
    reopened.open_spider(spider)
    assert reopened.retrieve_response(spider, request).body == page.body
    reopened.close_spider(spider)
    assert b"\x80\x04" not in (tmp_path / "pages.sqlite").read_bytes()  # pickle protocol 4
