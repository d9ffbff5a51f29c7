"""Under a storm the crawl degrades honestly, and a requested stop ends within seconds.

A 45 % storm runs the retry budget out: every book is still exported or named, by its
own URL or its listing page's, in failures.jsonl. Ctrl-C while every book page hangs
ends in seconds (``FastShutdown``); without it, Scrapy waits out DOWNLOAD_TIMEOUT.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from booksscraper.sandbox.testing import RunningSandbox, running_sandbox
from tests.helpers import REPO, crawl_command, read_books, read_lines, run_crawl

pytestmark = pytest.mark.timeout(180)


def test_what_the_retry_budget_gives_up_is_named(tmp_path: Path) -> None:
    storm = {"fault_500": 0.25, "fault_reset": 0.1, "fault_truncate": 0.1}
    with running_sandbox(books=300, seed=21, **storm) as sb:
        result = run_crawl(sb.base_url, tmp_path, "-s", "RETRY_BACKOFF_BASE=0.02",
                           "-s", "RETRY_BACKOFF_CAP=0.1", "-s", "LISTING_LOOKAHEAD=3")
        truth = sb.truth()
    # What the budget gave up fails the monitors (exit 3); nothing is silent.
    assert result.returncode == 3, result.stderr[-3000:]
    assert "rejects_failures: " in result.stderr
    stats = read_stats(tmp_path)
    assert stats["retry/budget/exhausted"] > 0
    failed = {f["url"] for f in read_lines(tmp_path / "failures.jsonl")}
    exported = {b["url"] for b in read_books(tmp_path)}
    ordered = sorted(truth, key=lambda t: -t["book_id"])
    for index, book in enumerate(ordered):
        listing = f"{sb.base_url}catalogue/page-{index // 20 + 1}.html"
        named = book["url"] in failed or listing in failed or (index < 20 and sb.base_url in failed)
        assert book["url"] in exported or named, book["url"]


def read_stats(out: Path) -> dict:
    import json

    return json.loads((out / "stats.json").read_text())


def stop_after_start(
    sb: RunningSandbox, out: Path, *args: str, in_flight: int = 8
) -> tuple[float, int, str]:
    """SIGINT once book requests hang at the server; (seconds to exit, exit status, log)."""
    log = out.parent / f"{out.name}.log"
    with log.open("wb") as f:
        proc = subprocess.Popen(crawl_command(sb.base_url, out, *args), cwd=REPO, stdout=f,
                                stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while sb.stats()["in_flight"] < in_flight:
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.1)
    began = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(60)
    return time.monotonic() - began, proc.returncode, log.read_text()


@pytest.mark.parametrize("fast", [True, False])
def test_ctrl_c_with_hung_downloads_ends_within_seconds(tmp_path: Path, fast: bool) -> None:
    # Scrapy's own graceful stop (the control) waits for the hung downloads: a shorter
    # DOWNLOAD_TIMEOUT shows that as well as a longer one, in less time.
    args = ["-s", f"DOWNLOAD_TIMEOUT={10 if fast else 6}"]
    if not fast:
        args += ["-s", 'EXTENSIONS={"booksscraper.extensions.shutdown.FastShutdown": null}']
    with running_sandbox(books=20, seed=2, fault_hang=1.0, fault_kinds=["book"]) as sb:
        seconds, status, log = stop_after_start(sb, tmp_path / "out", *args)
    assert status == 0, log[-3000:]
    if fast:
        assert seconds < 6, log[-3000:]
        assert "aborted" in log
        # Every book accounted for: the hung downloads given up are named in the failures
        # file; those waiting for a retry, or still queued, are not attempted (a resumed
        # crawl fetches them again).
        failures = read_lines(tmp_path / "out" / "failures.jsonl")
        stats = json.loads((tmp_path / "out" / "stats.json").read_text(encoding="utf-8"))
        assert failures and len(failures) == stats["ledger/failed_books"]
        assert stats["ledger/failed_books"] + stats["ledger/not_attempted"] == 20
    else:
        assert seconds >= 5  # Scrapy waits out DOWNLOAD_TIMEOUT (6 s from the first hang)


def test_ctrl_c_right_after_the_spider_opens_is_a_clean_stop(tmp_path: Path) -> None:
    with running_sandbox(books=20, seed=2, fault_hang=1.0) as sb:
        seconds, status, log = stop_after_start(sb, tmp_path / "out", in_flight=1)
    assert status == 0, log[-3000:]
    assert "error:" not in log and "(None)" not in log
    assert seconds < 6
