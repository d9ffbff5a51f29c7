"""A fault storm end to end: every book arrives, nothing fails, and the stats tell the story.

The sandbox answers 10% 5xx, 5% 429 with Retry-After, 2% connection resets, 2% hangs, 1%
truncated bodies, 1% empty 200 bodies and 4% malformed book pages (no price, garbled
rating); the crawl goes through two real tinyproxy proxies, and one of them is killed
(SIGKILL, by PID) in the middle of the crawl.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from booksscraper.records.credentials import proxy_key
from booksscraper.sandbox.testing import running_sandbox
from booksscraper.tools.truth import differences
from tests.helpers import read_books, read_lines
from tests.middlewares.conftest import crawl_stats
from tests.reliability.conftest import finish_crawl, start_crawl

BOOKS = 300
STORM = {
    "fault_500": 0.03,
    "fault_502": 0.02,
    "fault_503": 0.03,
    "fault_504": 0.02,
    "fault_429": 0.05,
    "retry_after": 1,
    "fault_reset": 0.02,
    "fault_hang": 0.02,
    "fault_truncate": 0.01,
    "fault_empty": 0.01,
    "fault_no_price": 0.02,
    "fault_bad_rating": 0.02,
}
# Each faulted attempt has a 1-in-5 chance; 10 retries and 4 re-fetches of a malformed page
# make losing a book vanishingly unlikely. The storm makes a quarter of all requests
# retries, nearly the default budget (30%), so the budget is raised for it.
STORM_SETTINGS = {
    "DOWNLOAD_TIMEOUT": "2",
    "RETRY_TIMES": "10",
    "REFETCH_INVALID_PAGES": "4",
    "RETRY_BUDGET_RATIO": "0.6",
    "RETRY_BACKOFF_CAP": "4",
    "RETRY_SLOWDOWN_MAX": "2",
    # A fifth of the answers are errors on purpose: the error-rate monitor (20 %) would fail
    # the crawl (exit 3) whenever the 2 cores are loaded enough to add timeouts.
    "MONITOR_MAX_ERROR_RATE": "0.6",
    # The proxy we kill stays dead; the other one, if a storm of errors makes it look dead,
    # comes back within seconds.
    "ROTATING_PROXY_BACKOFF_BASE": "1",
    "ROTATING_PROXY_BACKOFF_CAP": "3",
}


@pytest.mark.timeout(150)
def test_fault_storm_with_a_proxy_dying_mid_crawl_loses_nothing(
    tinyproxies, tmp_path: Path
) -> None:
    survivor = tinyproxies.start("127.0.0.2")
    doomed = tinyproxies.start("127.0.0.3")
    doomed_proc = tinyproxies.procs[-1]
    out = tmp_path / "out"
    with running_sandbox(books=BOOKS, seed=7, latency_ms=20, jitter_ms=20, **STORM) as sb:
        settings = [a for k, v in STORM_SETTINGS.items() for a in ("-s", f"{k}={v}")]
        crawl = start_crawl(
            sb.base_url, out, tmp_path / "crawl.log",
            "-s", f"ROTATING_PROXY_LIST={survivor},{doomed}", *settings,
        )
        # Kill the proxy once it has carried a good share of the crawl.
        deadline = time.monotonic() + 60
        while sb.stats()["by_ip"].get("127.0.0.3", {}).get("count", 0) < 40:
            assert crawl.poll() is None, "the crawl ended before the proxy could be killed"
            assert time.monotonic() < deadline, "the proxy never carried 40 requests"
            time.sleep(0.05)
        doomed_proc.kill()
        doomed_proc.wait()
        killed_at = sb.stats()["requests_total"]
        returncode, log = finish_crawl(crawl, tmp_path / "crawl.log", timeout=120)
        server = sb.stats()
        truth = sb.truth()

    assert returncode == 0, log[-4000:]
    # Every book, exactly as the site has it; nothing given up.
    assert differences(read_books(out), truth) == []
    assert read_lines(out / "failures.jsonl") == []
    assert server["requests_total"] > killed_at  # the crawl went on after the kill

    # Malformed pages are in the rejects file with their reason, then fetched again.
    rejects = read_lines(out / "rejects.jsonl")
    assert rejects and {r["stage"] for r in rejects} == {"malformed_page"}
    reasons = {reason for r in rejects for reason in r["reasons"]}
    assert "price_missing" in reasons, reasons
    assert any(reason.startswith("rating_") for reason in reasons), reasons
    book_urls = {t["url"] for t in truth}
    assert {r["url"] for r in rejects} <= book_urls

    stats = crawl_stats(log)
    for reason in ("http_500", "http_502", "http_503", "http_504", "http_429", "timeout"):
        assert stats.get(f"retry/reason_count/{reason}", 0) >= 1, (reason, stats)
    # Through a proxy an empty 200 looks like a ban: the page moves to the other proxy.
    assert stats.get("retry/reason_count/empty_body", 0) + stats.get("bans/empty", 0) >= 1
    assert stats["retry/retry_after/honoured"] >= 1
    assert stats["retry/backoff/count"] == stats["retry/count"] > 0
    assert stats["retry/slowdown/raised"] >= 1
    # The killed proxy refused connections and was marked dead (at close it is "dead", or
    # "unchecked" if its short rest was over: never "good" again); the survivor carried on.
    assert stats["bans/error/connection_refused"] >= 1
    assert stats[f"proxies/state/{proxy_key(doomed)}"] in ("dead", "unchecked")
    assert stats[f"proxies/state/{proxy_key(survivor)}"] == "good"
    assert "127.0.0.1" not in server["by_ip"]  # nothing went direct
    for fault in ("500", "429", "reset", "hang", "truncate", "no_price", "bad_rating"):
        assert server["faults"].get(fault, 0) >= 1, (fault, server["faults"])
    assert "Traceback" not in log
