"""Real crawls of the sandbox judged by the monitors: exit status, log, stats.json, alerts.

A clean crawl passes every monitor and exits 0; 10% of book pages failing for good,
prices gone from 10% of the pages and a crawl stopped by a safety net each fail the
right monitor, exit 3 and post one alert to a real local receiver; a crawl that stalls
fires the periodic monitor while it runs.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from booksscraper.sandbox.testing import RunningSandbox
from tests.helpers import read_books, read_lines, run_crawl
from tests.monitors.conftest import BOOKS, Receiver, book_path

pytestmark = pytest.mark.timeout(180)

SHORT_RETRIES = ("-s", "RETRY_TIMES=1", "-s", "RETRY_BACKOFF_BASE=0.02")
SECRET = "hook-s3cret"


def stats_of(out: Path) -> dict[str, Any]:
    return json.loads((out / "stats.json").read_text(encoding="utf-8"))


def failed_names(out: Path) -> set[str]:
    return {c["name"] for c in stats_of(out)["monitors/results"] if c["passed"] is False}


def webhook(receiver: Receiver) -> tuple[str, str]:
    return "-s", f"ALERT_WEBHOOK_URL={receiver.url('alerts:' + SECRET)}"


def check_one_alert(receiver: Receiver, out: Path, names: set[str]) -> dict[str, Any]:
    """One close alert, the same in the receiver and the alerts file, naming ``names``."""
    assert len(receiver.received) == 1, receiver.received
    post = receiver.received[0]
    alert = post["json"]
    assert alert["kind"] == "close"
    assert {f["name"] for f in alert["failed"]} == names
    assert alert["crawl"]["spider"] == "books"
    assert alert["files"]["stats"] == str((out / "stats.json").resolve())
    # Only files that exist: report.md is written with REPORT_ON_CLOSE (off here).
    assert "report" not in alert["files"]
    assert all(Path(path).exists() for path in alert["files"].values())
    # The webhook's credentials went as Basic auth, and nowhere else.
    assert post["headers"]["Authorization"] == "Basic " + base64.b64encode(
        f"alerts:{SECRET}".encode()).decode()
    assert SECRET not in post["raw"]
    assert read_lines(out / "alerts.jsonl") == [alert]
    return alert


def test_a_clean_crawl_passes_every_monitor(site: RunningSandbox, tmp_path: Path,
                                            receiver: Receiver) -> None:
    result = run_crawl(site.base_url, tmp_path, *webhook(receiver))
    assert result.returncode == 0, result.stderr[-3000:]
    stats = stats_of(tmp_path)
    assert stats["ledger/announced"] == BOOKS
    results = {c["name"]: c for c in stats["monitors/results"]}
    assert {name for name, c in results.items() if c["passed"] is False} == set()
    assert results["items"]["passed"] and results["items"]["figure"] == BOOKS
    assert results["field:price"]["figure"] == 1.0
    assert "monitors/failed" not in stats
    assert "Monitor failed" not in result.stderr
    assert "Monitors: " in result.stderr and " 0 failed" in result.stderr
    assert receiver.received == []
    assert not (tmp_path / "alerts.jsonl").exists()


def test_ten_percent_of_book_pages_failing_for_good(site: RunningSandbox, tmp_path: Path,
                                                    receiver: Receiver) -> None:
    broken = site.truth_cache[::10]  # type: ignore[attr-defined]
    site.configure(broken_paths={book_path(book["url"]): "500" for book in broken})
    log = tmp_path / "crawl.log"  # as under scrapyd: the job log
    result = run_crawl(site.base_url, tmp_path / "out", *SHORT_RETRIES, *webhook(receiver),
                       "-s", f"LOG_FILE={log}")
    assert result.returncode == 3, result.stderr[-3000:]
    out = tmp_path / "out"
    assert len(read_books(out)) == BOOKS - len(broken)
    assert failed_names(out) == {"items", "rejects_failures"}
    assert result.stderr.startswith("error: monitors failed: items: 180 of 200 books exported")
    text = log.read_text(encoding="utf-8")
    assert text.count("Monitor failed: ") == 2
    assert "Monitor failed: rejects_failures: 0 books rejected and 20 requests failed" in text
    assert SECRET not in text
    # The job log names the reason (`make jobs` shows it: tests/scrapyd).
    assert "[booksscraper.commands.crawl] ERROR: monitors failed: items: 180 of 200" in text
    alert = check_one_alert(receiver, out, {"items", "rejects_failures"})
    assert next(f for f in alert["failed"] if f["name"] == "items")["figure"] == 180


def test_prices_vanishing_from_the_pages_fail_the_field_coverage(
        site: RunningSandbox, tmp_path: Path, receiver: Receiver) -> None:
    no_price = site.truth_cache[::10]  # type: ignore[attr-defined]
    site.configure(broken_paths={book_path(book["url"]): "no_price" for book in no_price})
    result = run_crawl(site.base_url, tmp_path, *webhook(receiver))
    assert result.returncode == 3, result.stderr[-3000:]
    failed = failed_names(tmp_path)
    assert {"field:price", "items", "rejects_failures"} <= failed
    assert "field:title" not in failed
    assert "Monitor failed: field:price: price present and valid in 180 of 200 items" \
        in result.stderr
    rejects = read_lines(tmp_path / "rejects.jsonl")
    assert {r["url"] for r in rejects if r["stage"] == "validation"} == \
        {b["url"] for b in no_price}
    check_one_alert(receiver, tmp_path, failed)
    # The report names the monitors that failed and the reason of the rejects.
    from booksscraper.report import build_report

    report = build_report(tmp_path).read_text(encoding="utf-8")
    assert "| field:price | **FAILED** | price present and valid in 180 of 200 items" in report
    assert "| rejects | validation: price_missing | 20 |" in report
    assert (tmp_path / "report" / "reasons.png").stat().st_size > 10_000


def test_a_crawl_stopped_by_a_safety_net_fails(site: RunningSandbox, tmp_path: Path,
                                                receiver: Receiver) -> None:
    site.configure(latency_ms=200)  # a crawl of 5 s or more, stopped after 1 s
    result = run_crawl(site.base_url, tmp_path, *webhook(receiver),
                       "-s", "CLOSESPIDER_TIMEOUT=1")
    assert result.returncode == 3, result.stderr[-3000:]
    assert stats_of(tmp_path)["finish_reason"] == "closespider_timeout"
    assert failed_names(tmp_path) == {"finish_reason", "items"}
    assert "Monitor failed: finish_reason: finish reason closespider_timeout" in result.stderr
    check_one_alert(receiver, tmp_path, {"finish_reason", "items"})


def test_a_limit_the_user_set_passes(site: RunningSandbox, tmp_path: Path) -> None:
    result = run_crawl(site.base_url, tmp_path, "-s", "CLOSESPIDER_ITEMCOUNT=20")
    assert result.returncode == 0, result.stderr[-3000:]
    items = next(c for c in stats_of(tmp_path)["monitors/results"] if c["name"] == "items")
    assert items["passed"] is True and "of 20 books exported" in items["message"]


def test_a_stalled_crawl_fires_the_periodic_monitor(site: RunningSandbox, tmp_path: Path,
                                                    receiver: Receiver) -> None:
    hung = site.truth_cache[-8:]  # type: ignore[attr-defined]
    site.configure(broken_paths={book_path(book["url"]): "hang" for book in hung})
    result = run_crawl(
        site.base_url, tmp_path, *webhook(receiver), "-s", "RETRY_TIMES=0",
        "-s", "DOWNLOAD_TIMEOUT=5", "-s", "MONITOR_STALL_SECONDS=2",
        "-s", "MONITOR_CHECK_INTERVAL=0.5", "-s", "MONITOR_MAX_REJECTS_FAILURES_RATIO=1",
        "-s", "MONITOR_ITEMS_MIN_RATIO=0.9",
        # The 8 timeouts can land in one short interval: an error rate this test does not judge.
        "-s", "MONITOR_MAX_ERROR_RATE=1",
    )
    assert result.returncode == 3, result.stderr[-3000:]
    assert result.stderr.count("Monitor failed: stall: no new item for ") == 1
    stats = stats_of(tmp_path)
    assert stats["monitors/failed"] == ["stall"], stats["monitors/results"]
    assert stats["monitors/periodic/stall"] >= 1
    # The alert went out while the crawl hung, then the close alert.
    kinds = [post["json"]["kind"] for post in receiver.received]
    assert kinds == ["periodic", "close"], receiver.received
    assert receiver.received[0]["json"]["failed"][0]["name"] == "stall"
    assert receiver.received[0]["json"]["crawl"]["finish_reason"] is None
    assert [a["kind"] for a in read_lines(tmp_path / "alerts.jsonl")] == kinds


def test_a_throttling_site_fires_the_periodic_rate_monitor(site: RunningSandbox,
                                                          tmp_path: Path) -> None:
    site.configure(fault_429=0.3, fault_kinds=["book"], retry_after=0)
    result = run_crawl(site.base_url, tmp_path, "-s", "RETRY_BACKOFF_BASE=0.02",
                       "-s", "RETRY_BACKOFF_CAP=0.1", "-s", "RETRY_SLOWDOWN_MAX=0",
                       "-s", "MONITOR_CHECK_INTERVAL=0.1", "-s", "MONITOR_RATE_MIN_RESPONSES=10",
                       # 7 tries at 30 % lose one of 200 books in ~4 % of runs; 13 in none.
                       "-s", "RETRY_TIMES=12", timeout=90)
    assert result.returncode == 3, result.stderr[-3000:]
    assert len(read_books(tmp_path)) == BOOKS  # every book, through the 429s
    assert result.stderr.count("Monitor failed: throttle_rate: ") == 1
    assert "throttle_rate" in stats_of(tmp_path)["monitors/failed"]
