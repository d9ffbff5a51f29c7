"""Real crawls of the sandbox: time series, stats, logs, thresholds, the memory cap."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from booksscraper.extensions.counters import pages_discovered
from tests.helpers import read_lines
from tests.monitoring.conftest import BOOKS, Crawl, crawl

pytestmark = pytest.mark.timeout(180)

PROGRESS_LINE = re.compile(
    r"\[booksscraper\.extensions\.progress\] INFO: Progress: (\d+)/(\d+) books, (\d+)/(\d+) "
    r"pages, (\d+) items, [\d.]+ books/s, ETA [\d:?]+, \d+ errors, \d+ retries\b.*$",
    re.MULTILINE,
)


def test_time_series_has_resources_and_crawl_counters(plain_crawl: Crawl) -> None:
    samples, stats = plain_crawl.samples, plain_crawl.stats
    assert len(samples) >= 5, "a crawl of a few seconds sampled every 0.2 s"
    assert len(samples) == stats["monitor/samples"]
    times = [s["t"] for s in samples]
    assert times == sorted(times)
    for sample in samples:
        assert sample["rss_bytes"] > 10 * 2**20
        assert 0 < sample["fds"] < sample["fd_limit"]
        assert sample["threads"] >= 1
        assert sample["net_scope"] == "system"
        assert 0 <= sample["system_memory_percent"] <= 100
    pages = [s["pages"] for s in samples]
    assert pages == sorted(pages) and pages[0] < pages[-1]
    # The last sample is taken at close: it ends where the crawl's stats do.
    last = samples[-1]
    assert last["pages"] == stats["downloader/response_count"] - stats["robotstxt/response_count"]
    assert last["items"] == stats["item_scraped_count"] == BOOKS
    assert last["retries"] == stats["retry/count"] > 0
    assert last["discovered"] == pages_discovered(stats)
    assert last["proxies_good"] is None and last["proxies_dead"] is None  # no proxies here
    # Sockets were open while the crawl was downloading.
    assert max(s["sockets"] for s in samples) >= 1


def test_stats_hold_peaks_averages_and_latency(plain_crawl: Crawl) -> None:
    samples, stats = plain_crawl.samples, plain_crawl.stats
    assert stats["finish_reason"] == "finished"
    assert stats["monitor/rss_peak_bytes"] == max(s["rss_bytes"] for s in samples)
    assert stats["monitor/fds_peak"] == max(s["fds"] for s in samples)
    assert stats["monitor/sockets_peak"] == max(s["sockets"] for s in samples)
    assert stats["monitor/fds_limit"] == samples[0]["fd_limit"]
    average_cpu = sum(s["cpu_percent"] for s in samples) / len(samples)
    assert stats["monitor/cpu_percent_avg"] == pytest.approx(average_cpu, abs=0.1)
    assert stats["monitor/cpu_percent_peak"] > 0
    # One latency per response, spread over the histogram buckets.
    assert stats["latency/count"] == stats["response_received_count"]
    buckets = {k: v for k, v in stats.items() if k.startswith("latency/histogram_ms/")}
    assert sum(buckets.values()) == stats["latency/count"]
    # The sandbox adds 20-60 ms to every catalogue page.
    assert 20 <= stats["latency/p50_ms"] <= stats["latency/p90_ms"] <= stats["latency/p99_ms"]
    assert stats["latency/p99_ms"] <= stats["latency/max_ms"]
    assert not any(k.startswith("monitor/warning/") for k in stats)


def test_plain_log_has_progress_lines_and_no_rich_output(plain_crawl: Crawl) -> None:
    lines = PROGRESS_LINE.findall(plain_crawl.stderr)
    assert len(lines) >= 2, plain_crawl.stderr[-2000:]
    # The line at close has the final counts: every book the site announced, settled;
    # the pages that implies (a page per book, and the listing pages), and the pages
    # fetched (retries of 503s too; robots.txt is not a page).
    books, announced, pages, implied, items = map(int, lines[-1])
    stats = plain_crawl.stats
    assert books == announced == items == BOOKS == stats["ledger/announced"]
    assert stats["robotstxt/response_count"] == 1
    assert pages == pages_discovered(stats) == stats["downloader/response_count"] - 1
    assert implied == BOOKS + stats["ledger/listing_pages"] <= pages
    # No progress bar: not a terminal.
    for output in (plain_crawl.stdout, plain_crawl.stderr):
        assert "\x1b[" not in output
        assert "━" not in output


def test_close_summary_line(plain_crawl: Crawl) -> None:
    stats = plain_crawl.stats
    match = re.search(
        r"INFO: Crawl summary \(finished\): (\d+) books exported of \d+ announced, .*; "
        r"(\d+) pages, (\d+) retries, (\d+) bans, peak RSS (\d+) MiB, [\d.]+ s$",
        plain_crawl.stderr,
        re.MULTILINE,
    )
    assert match, plain_crawl.stderr[-2000:]
    items, pages, retries, bans, rss_mib = map(int, match.groups())
    assert items == BOOKS
    assert pages == pages_discovered(stats)  # robots.txt is not a page
    assert retries == stats["retry/count"]
    assert bans == 0
    assert rss_mib == round(stats["monitor/rss_peak_bytes"] / 2**20)


def test_thresholds_warn_once_and_the_crawl_goes_on(slow_sandbox: Any, tmp_path: Path) -> None:
    result = crawl(
        slow_sandbox,
        tmp_path,
        "MONITOR_INTERVAL=0.2",
        "MONITOR_MEMORY_WARN_MB=10",  # far below any Python process
        "MONITOR_FD_WARN_RATIO=0.0001",  # 2 descriptors of 20000 already cross it
    )
    assert result.returncode == 0, result.stderr[-3000:]
    stats = result.stats
    assert stats["finish_reason"] == "finished"
    assert stats["item_scraped_count"] == BOOKS
    # Always above: one warning each, not one per sample.
    assert stats["monitor/warning/memory"] == 1
    assert stats["monitor/warning/fds"] == 1
    assert stats["monitor/samples"] > 2
    warnings = re.findall(
        r"WARNING: Resource warning \((\w+)\): (.*)$", result.stderr, re.MULTILINE
    )
    assert sorted(kind for kind, _ in warnings) == ["fds", "memory"]
    assert "above the warning level of 10 MiB" in dict(warnings)["memory"]
    assert "RLIMIT_NOFILE" in dict(warnings)["fds"]


def test_memory_cap_closes_the_spider_cleanly(slow_sandbox: Any, tmp_path: Path) -> None:
    result = crawl(slow_sandbox, tmp_path, "MONITOR_MEMORY_CAP_MB=20", "MONITOR_INTERVAL=0.2")
    # The project's crawl command exits 1 when a crawl does not finish.
    assert result.returncode == 1, result.stderr[-3000:]
    assert "crawl did not finish (memory_cap)" in result.stderr
    assert "above MONITOR_MEMORY_CAP_MB=20: closing the spider" in result.stderr
    assert "Traceback" not in result.stderr
    stats = result.stats
    assert stats["finish_reason"] == "memory_cap"
    assert stats["monitor/memory_cap_reached"] == 1
    # Closed early, yet every file is whole and they agree with each other.
    items = stats.get("item_scraped_count", 0)
    assert items < BOOKS
    lines = read_lines(tmp_path / "books.jsonl")
    assert len(lines) == items
    books = json.loads((tmp_path / "books.json").read_text(encoding="utf-8"))
    assert sorted(b["upc"] for b in books) == sorted(b["upc"] for b in lines)
    assert result.samples, "the monitor file is closed properly"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("PROGRESS=sometimes", "error: PROGRESS: must be one of auto, bar, log, off"),
        ("MONITOR_INTERVAL=0", "error: MONITOR_INTERVAL: must be >= 0.001"),
        ("MONITOR_MEMORY_CAP_MB=lots", "error: MONITOR_MEMORY_CAP_MB: expected a number"),
        ("MONITOR_FD_WARN_RATIO=2", "error: MONITOR_FD_WARN_RATIO: must be >= 0 and <= 1"),
    ],
)
def test_bad_settings_are_one_line_errors(
    slow_sandbox: Any, tmp_path: Path, setting: str, message: str
) -> None:
    result = crawl(slow_sandbox, tmp_path, setting)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
