"""Listing pages run a bounded window ahead of the books (never the whole catalogue at once)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from parsel import Selector
from scrapy import Request, signals
from scrapy.exceptions import DownloadFailedError
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from booksscraper.extraction.listing import parse_listing_page
from booksscraper.sandbox.testing import running_sandbox
from booksscraper.spiders.books import BooksSpider, book_priority, listing_priority
from booksscraper.tools.truth import differences
from tests.helpers import REPO, read_books, read_lines, run_crawl

pytestmark = pytest.mark.timeout(300)

PROBE = {"PYTHONPATH": str(REPO / "tests" / "spider" / "probes")}
PROBE_SETTING = 'EXTENSIONS={"queue_probe.QueueProbe": 0}'


@pytest.mark.parametrize("lookahead", [1, 3, 10])
def test_listing_page_n_goes_out_between_the_books_of_pages_n_minus_k_and_the_next(
    lookahead: int,
) -> None:
    for page in range(2, 60):
        # Scrapy sends higher priorities first.
        assert book_priority(page - lookahead) > listing_priority(page, lookahead)
        assert listing_priority(page, lookahead) > book_priority(page - lookahead + 1)


def test_the_queue_holds_a_few_pages_of_books_not_the_catalogue(tmp_path: Path) -> None:
    # 30 listing pages: the whole catalogue (630 requests) is over 7x the bound asserted below,
    # which is all the size has to show.
    books, lookahead = 600, 3
    with running_sandbox(books=books, seed=5) as sandbox:
        result = run_crawl(
            sandbox.base_url, tmp_path,
            "-s", f"LISTING_LOOKAHEAD={lookahead}", "-s", PROBE_SETTING,
            env=PROBE,
        )
        truth = sandbox.truth()
    assert result.returncode == 0, result.stderr[-3000:]
    assert differences(read_books(tmp_path), truth) == []
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["books/listing_lookahead"] == lookahead
    # At most the books of the K pages ahead, plus the K listing requests and
    # one page being read: scheduling every listing page at once would queue
    # 29 listing requests before the first book, and then their books.
    assert stats["probe/scheduler_peak"] <= 20 * (lookahead + 1) + lookahead, stats


def test_the_automatic_window_covers_two_rounds_of_concurrent_requests(tmp_path: Path) -> None:
    with running_sandbox(books=400, seed=5) as sandbox:
        result = run_crawl(sandbox.base_url, tmp_path, "-s", "CONCURRENT_REQUESTS=64")
    assert result.returncode == 0, result.stderr[-3000:]
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["books/listing_lookahead"] == 1 + 2 * 64 // 20 + 1  # 1 + ceil(128 / 20)


def test_a_lost_listing_page_does_not_stop_the_pages_after_it(tmp_path: Path) -> None:
    # Every listing page but the first fails (HTTP 500, no retries): each still
    # schedules the page K after it, so every one of them is tried and recorded.
    with running_sandbox(books=400, seed=5, fault_kinds="listing", fault_500=1.0) as sandbox:
        result = run_crawl(
            sandbox.base_url, tmp_path, "-s", "RETRY_TIMES=0", "-s", "LISTING_LOOKAHEAD=2"
        )
        truth = sandbox.truth()
        home = requests.get(sandbox.base_url, timeout=10).text
    # Finished, its losses on record; the monitors fail it (20 of 400 books).
    assert result.returncode == 3, result.stderr[-3000:]
    assert "error: monitors failed: items: 20 of 400 books exported" in result.stderr
    failures = read_lines(tmp_path / "failures.jsonl")
    assert sorted(f["url"].rsplit("/", 1)[-1] for f in failures) == sorted(
        f"page-{n}.html" for n in range(2, 21)
    )
    # The first page's books all arrive.
    on_home = set(parse_listing_page(Selector(text=home), sandbox.base_url).book_urls)
    first_page = [b for b in truth if b["url"] in on_home]
    assert len(first_page) == 20
    assert differences(read_books(tmp_path), first_page) == []


def test_a_bad_lookahead_names_the_setting(tmp_path: Path) -> None:
    result = run_crawl("http://127.0.0.1:9/", tmp_path, "-s", "LISTING_LOOKAHEAD=-1")
    assert result.returncode == 2
    assert "LISTING_LOOKAHEAD" in result.stderr.strip().splitlines()[-1]


def unit_spider(tmp_path: Path) -> BooksSpider:
    """The spider on a crawler that is not crawling, for calling its callbacks directly."""
    crawler = get_crawler(BooksSpider, {"ADDONS": {}, "OUTPUT_DIR": str(tmp_path)})
    spider = BooksSpider.from_crawler(crawler, start_url="http://127.0.0.1:9/")
    crawler.spider = spider
    return spider


def test_a_lost_page_without_a_numbered_pager_is_reported_as_a_broken_chain(
    tmp_path: Path,
) -> None:
    spider = unit_spider(tmp_path)
    crawler = spider.crawler
    failed = Request("http://127.0.0.1:9/next-please", meta={"listing": {"page": 3}})
    failure = Failure(DownloadFailedError("gone"))
    failure.request = failed  # as Scrapy sets it on download errors
    assert list(spider.listing_failed(failure)) == []
    assert crawler.stats.get_value("books/listing_chain_broken") == 1
    crawler.signals.send_catch_log(signals.engine_stopped)  # closes the failures file
    assert [f["url"] for f in read_lines(tmp_path / "failures.jsonl")] == [failed.url]


def test_resuming_a_next_link_that_points_back_is_followed_once(tmp_path: Path) -> None:
    spider = unit_spider(tmp_path)
    spider.resumable = True  # listing requests bypass the duplicate filter

    def page(url: str, next_href: str) -> HtmlResponse:
        body = f'<ul class="pager"><li class="next"><a href="{next_href}">next</a></li></ul>'
        request = Request(url, meta={"listing": {"page": 2}})  # no numbered pager
        return HtmlResponse(url, body=body.encode(), encoding="utf-8", request=request)

    a, b = "http://127.0.0.1:9/a.html", "http://127.0.0.1:9/b.html"
    assert [r.url for r in spider.parse_listing(page(a, "b.html"))] == [b]
    assert [r.url for r in spider.parse_listing(page(b, "a.html"))] == [a]
    assert list(spider.parse_listing(page(a, "b.html"))) == []  # the cycle ends here
