"""Every book accounted for: real crawls of a sandbox whose site is not what it says.

A listing page short of its range, book links with a query string, a layout change, a
slow storm, a user's limits on a paced crawl, and one faulty crawl whose summary line,
report, stats.json and monitors must give the same numbers (the ledger's).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from booksscraper.sandbox.testing import RunningSandbox, running_sandbox
from tests.helpers import read_books, read_lines, run_crawl

pytestmark = pytest.mark.timeout(180)

BOOKS = 60  # three listing pages


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with running_sandbox(books=BOOKS, seed=11) as sb:
        yield sb


@pytest.fixture
def sb(server: RunningSandbox) -> Iterator[RunningSandbox]:
    yield server
    server.configure(short_listing_pages=[], book_link_query="", renamed_elements=[],
                     fault_no_price=0.0, fault_500=0.0, fault_kinds=[], latency_ms=0)


def stats_of(out: Path) -> dict[str, Any]:
    return json.loads((out / "stats.json").read_text(encoding="utf-8"))


def last_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, stderr[-3000:]
    return lines[0]


def stopped_by_the_breaker(result: Any, out: Path, message: str) -> dict[str, Any]:
    """The crawl's stats, once its exit 3 and its one error line show the breaker tripped."""
    assert result.returncode == 3, result.stderr[-3000:]
    line = last_error(result.stderr)
    assert re.match(r"error: monitors failed: site_changed: " + message, line), line
    stats = stats_of(out)
    assert stats["finish_reason"] == "site_changed"
    return stats


def test_a_listing_page_short_of_its_range_is_named_and_exits_3(sb: RunningSandbox,
                                                                  tmp_path: Path) -> None:
    sb.configure(short_listing_pages=["/catalogue/page-2.html"])
    result = run_crawl(sb.base_url, tmp_path)
    assert result.returncode == 3, result.stderr[-3000:]
    page = sb.base_url + "catalogue/page-2.html"
    assert f"{page} shows 19 of 20" in last_error(result.stderr)
    assert "1 of 60 announced books unaccounted" in last_error(result.stderr)
    stats = stats_of(tmp_path)
    assert stats["ledger/short_listings"] == [{"url": page, "expected": 20, "found": 19}]
    assert stats["ledger/unaccounted"] == 1 and stats["ledger/exported"] == BOOKS - 1
    assert len(read_books(tmp_path)) == BOOKS - 1


def test_book_links_with_a_query_string_give_every_book(sb: RunningSandbox,
                                                        tmp_path: Path) -> None:
    sb.configure(book_link_query="?ref=list")
    result = run_crawl(sb.base_url, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    truth = {book["url"] for book in sb.truth()}
    assert {book["url"] for book in read_books(tmp_path)} == truth  # no query string kept
    assert stats_of(tmp_path)["ledger/exported"] == BOOKS


def test_a_layout_change_stops_early_naming_the_field(tmp_path: Path) -> None:
    with running_sandbox(books=1000, seed=3, renamed_elements=["price"]) as site:
        result = run_crawl(site.base_url, tmp_path)
    stats = stopped_by_the_breaker(result, tmp_path, r"the first 20 book pages all fail on "
                                   r"price \(e\.g\. http://\S+/index\.html\): ")
    assert stats["downloader/request_count"] < 300
    assert read_lines(tmp_path / "books.jsonl") == []


def test_a_slow_storm_fails_the_error_rate_monitor(sb: RunningSandbox, tmp_path: Path) -> None:
    # About 4 answers in each 0.5 s interval, far under the 20 a rate is judged on: the
    # window reaches back as many intervals as it takes.
    sb.configure(fault_500=0.5, fault_kinds=["book"], latency_ms=250)
    # The last listing page (20 books): about 35 requests, 9 s.
    result = run_crawl(sb.base_url + "catalogue/page-3.html", tmp_path,
                       "-s", "CONCURRENT_REQUESTS=1",
                       "-s", "MONITOR_CHECK_INTERVAL=0.5", "-s", "RETRY_BACKOFF_BASE=0.01",
                       "-s", "RETRY_TIMES=2")
    assert result.returncode == 3, result.stderr[-3000:]
    assert re.search(r"Monitor failed: error_rate: \d+ errors in (\d+) answers in "
                     r"[\d.]+ s", result.stderr), result.stderr[-3000:]
    assert stats_of(tmp_path)["monitors/periodic/error_rate"] >= 1


@pytest.mark.parametrize("limit", [("POLITENESS_MAX_RPS=4", "CLOSESPIDER_PAGECOUNT=20"),
                                   ("CLOSESPIDER_ITEMCOUNT=5",)])
def test_a_paced_sample_crawl_is_a_success(sb: RunningSandbox, tmp_path: Path,
                                           limit: tuple[str, ...]) -> None:
    settings = [arg for setting in limit for arg in ("-s", setting)]
    result = run_crawl(sb.base_url, tmp_path, *settings)
    assert result.returncode == 0, result.stderr[-3000:]
    stats = stats_of(tmp_path)
    assert read_lines(tmp_path / "failures.jsonl") == []
    assert "monitors/failed" not in stats
    books = len(read_books(tmp_path))
    assert 0 < books <= 5 + 16 if "CLOSESPIDER_ITEMCOUNT=5" in limit else books > 0
    # Every book the site announced and the stop left unfetched is not attempted; nothing is
    # unaccounted.
    assert stats["ledger/not_attempted"] == stats["ledger/announced"] - books > 0
    assert stats.get("ledger/unaccounted", 0) == 0


def test_one_faulty_crawl_every_count_agrees(sb: RunningSandbox, tmp_path: Path) -> None:
    sb.configure(fault_no_price=0.5, fault_kinds=["book"])
    result = run_crawl(sb.base_url, tmp_path, "-s", "REPORT_ON_CLOSE=True")
    stats = stats_of(tmp_path)
    rejected, exported = stats["ledger/rejected"], stats["ledger/exported"]
    assert rejected > 0 and exported + rejected == BOOKS
    # The summary line.
    summary = re.search(r"Crawl summary \(finished\): (\d+) books exported of (\d+) announced, "
                        r"(\d+) rejected, (\d+) failed, .*?; (\d+) requests given up, (\d+) bad "
                        r"copies fetched again", result.stderr)
    assert summary, result.stderr[-3000:]
    assert tuple(map(int, summary.groups())) == (
        exported, BOOKS, rejected, 0, 0, stats["ledger/refetched"])
    # The files: every book exported or rejected once, whatever copies were fetched again.
    assert len(read_books(tmp_path)) == exported
    rejects = read_lines(tmp_path / "rejects.jsonl")
    given_up = {r["url"] for r in rejects if r["stage"] == "validation"}
    assert len(given_up) == rejected
    assert len([r for r in rejects if r["stage"] == "malformed_page"]) == stats["ledger/refetched"]
    # The monitors.
    verdict = next(c for c in stats["monitors/results"] if c["name"] == "rejects_failures")
    assert verdict["message"].startswith(f"{rejected} books rejected and 0 requests failed")
    # The report's headline.
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert f"| Books rejected | {rejected} |" in report
    assert f"| Books exported | {exported} |" in report
    # A dropped item is one line: its URL and reasons, never its whole text.
    dropped = [line for line in result.stderr.splitlines() if "Dropped: " in line]
    assert len(dropped) == rejected
    assert all(re.search(r"Dropped: invalid item http://\S+: .*price_missing", line)
               for line in dropped)
    assert "'description':" not in result.stderr


def test_most_books_rejected_in_a_window_trip_the_breaker(sb: RunningSandbox,
                                                         tmp_path: Path) -> None:
    # The first-pages trigger off, no page fetched again: the periodic reject rate alone.
    sb.configure(fault_no_price=0.8, fault_kinds=["book"], latency_ms=100)
    result = run_crawl(sb.base_url, tmp_path, "-s", "MONITOR_BREAKER_PAGES=0",
                       "-s", "REFETCH_INVALID_PAGES=0", "-s", "CONCURRENT_REQUESTS=2",
                       "-s", "MONITOR_CHECK_INTERVAL=0.2")
    stats = stopped_by_the_breaker(result, tmp_path, r"\d+ of \d+ books rejected in \d+ s \(\d+%, "
                                   r"most on price, e\.g\. http://\S+; maximum 50%\)")
    assert stats["ledger/exported"] + stats["ledger/rejected"] < BOOKS  # it stopped early
