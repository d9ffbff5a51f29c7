"""Retries with backoff through real crawls of the sandbox with injected faults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import read_books, read_lines, run_crawl
from tests.middlewares.conftest import crawl_stats

pytestmark = pytest.mark.timeout(120)


def test_every_book_arrives_through_503_429_and_resets(make_sandbox, tmp_path: Path) -> None:
    sb = make_sandbox(
        books=150,
        fault_503=0.06,
        fault_429=0.05,
        retry_after=1,
        fault_reset=0.03,
        fault_truncate=0.05,
    )
    result = run_crawl(sb.base_url, tmp_path, timeout=110)
    assert result.returncode == 0, result.stderr[-3000:]
    stats = crawl_stats(result.stderr)
    assert {b["url"] for b in read_books(tmp_path)} == {t["url"] for t in sb.truth()}
    faults = sb.stats()["faults"]
    assert faults.get("503", 0) > 0 and faults.get("429", 0) > 0
    assert stats["retry/reason_count/http_503"] == faults["503"]
    assert stats["retry/reason_count/http_429"] == faults["429"]
    assert stats["retry/retry_after/honoured"] == faults["429"]
    assert stats["retry/reason_count/data_loss"] == faults["truncate"] > 0
    assert stats["retry/backoff/count"] == stats["retry/count"]
    assert stats["retry/backoff/seconds_total"] > 0
    assert stats["retry/slowdown/raised"] >= 1
    assert "retry/given_up/http_503" not in stats
    assert read_lines(tmp_path / "failures.jsonl") == []


def test_retry_after_http_date_is_honoured(make_sandbox, tmp_path: Path) -> None:
    sb = make_sandbox(books=40, fault_429=0.2, retry_after=1, retry_after_format="date")
    result = run_crawl(sb.base_url, tmp_path, timeout=110)
    assert result.returncode == 0, result.stderr[-3000:]
    stats = crawl_stats(result.stderr)
    assert stats["retry/retry_after/honoured"] == sb.stats()["faults"]["429"] > 0
    assert len(read_books(tmp_path)) == 40


def test_a_request_waiting_out_its_backoff_does_not_hold_up_others(
    make_sandbox, tmp_path: Path
) -> None:
    # One request at a time: if a backing-off retry held its downloader slot, nothing
    # else could be crawled until it went out again.
    # A 429 with Retry-After: 1 makes every wait at least a second (full jitter may be ~0).
    sb = make_sandbox(books=30, fault_429=0.2, fault_kinds=["book"], retry_after=1)
    result = run_crawl(
        sb.base_url,
        tmp_path,
        "-s",
        "CONCURRENT_REQUESTS=1",
        "-s",
        "LOG_LEVEL=DEBUG",
        "-s",
        "RETRY_BACKOFF_BASE=2",
        "-s",
        "RETRY_BACKOFF_CAP=2",
        "-s",
        "RETRY_SLOWDOWN_MAX=0",
        timeout=110,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stderr.splitlines()
    retried = [
        (i, m.group(1))
        for i, line in enumerate(lines)
        if (m := re.search(r"Retrying <GET (\S+)> \(failed", line))
    ]
    assert retried, "the sandbox injected no 429"
    for index, url in retried:
        done = next(j for j in range(index, len(lines)) if f"Crawled (200) <GET {url}>" in lines[j])
        others = [line for line in lines[index:done] if "Crawled (200)" in line]
        assert others, f"nothing was crawled while {url} waited for its retry"
    assert len(read_books(tmp_path)) == 30


def test_giving_up_is_counted_logged_once_and_written_down(make_sandbox, tmp_path: Path) -> None:
    sb = make_sandbox(books=12, fault_503=1.0, fault_kinds=["book"], retry_after=0)
    result = run_crawl(
        sb.base_url,
        tmp_path,
        "-s",
        "RETRY_TIMES=2",
        "-s",
        "RETRY_BACKOFF_BASE=0.05",
        "-s",
        "RETRY_BUDGET_RATIO=10",
        "-s",
        "RETRY_SLOWDOWN_MAX=0",
        timeout=110,
    )
    stats = crawl_stats(result.stderr)
    book_urls = {t["url"] for t in sb.truth()}
    failures = read_lines(tmp_path / "failures.jsonl")
    assert {f["url"] for f in failures} == book_urls
    assert all(f["reason"] == "http_503" and f["attempts"] == 3 for f in failures)
    assert all(f["time"] and f["proxy"] is None for f in failures)
    assert stats["retry/max_reached"] == len(book_urls)
    assert stats["retry/given_up/http_503"] == len(book_urls)
    assert stats["retry/count"] == 2 * len(book_urls)
    gave_up = [line for line in result.stderr.splitlines() if "Gave up retrying" in line]
    assert len(gave_up) == len(book_urls)


def test_the_retry_budget_stops_a_retry_storm(make_sandbox, tmp_path: Path) -> None:
    sb = make_sandbox(books=40, fault_503=1.0, fault_kinds=["book"], retry_after=0)
    result = run_crawl(
        sb.base_url,
        tmp_path,
        "-s",
        "RETRY_TIMES=5",
        "-s",
        "RETRY_BACKOFF_BASE=0.01",
        "-s",
        "RETRY_BUDGET_RATIO=0.2",
        "-s",
        "RETRY_BUDGET_MIN=3",
        "-s",
        "RETRY_SLOWDOWN_MAX=0",
        timeout=110,
    )
    stats = crawl_stats(result.stderr)
    requests = stats["downloader/request_count"]
    assert stats["retry/budget/exhausted"] > 0
    # Without the budget: 40 books x 5 retries. With it: at most 20% of requests (+3).
    assert stats["retry/count"] <= 0.2 * requests + 3
    assert len(read_lines(tmp_path / "failures.jsonl")) == 40


def test_a_per_client_rate_limit_slows_the_slot_and_every_book_arrives(
    make_sandbox, tmp_path: Path
) -> None:
    limited: dict[str, int] = {}
    raised: dict[str, int] = {}
    for variant, extra in (("slowed", ()), ("not slowed", ("-s", "RETRY_SLOWDOWN_MAX=0"))):
        sb = make_sandbox(books=40, rate_limit=30, rate_burst=5, retry_after=1)
        out = tmp_path / variant
        result = run_crawl(sb.base_url, out, *extra, timeout=100)
        assert result.returncode == 0, result.stderr[-3000:]
        stats = crawl_stats(result.stderr)
        limited[variant] = sb.stats()["by_status"].get("429", 0)
        raised[variant] = stats.get("retry/slowdown/raised", 0)
        assert limited[variant] > 0, "the crawl never hit the rate limit"
        # Every 429 is retried after its Retry-After, never given up (budget-exempt).
        assert stats["retry/reason_count/http_429"] == limited[variant]
        assert len(read_books(out)) == 40
    assert raised == {"slowed": raised["slowed"], "not slowed": 0} and raised["slowed"] >= 1
    # Slowing the slot down on 429 spares the site most of them.
    assert limited["slowed"] < 0.75 * limited["not slowed"], limited
