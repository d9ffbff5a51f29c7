"""Retries still waiting out their backoff when the crawl closes are not lost."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from booksscraper.middlewares.delayed import JOBDIR_FILE
from tests.helpers import read_books, read_lines, run_crawl
from tests.middlewares.conftest import crawl_stats

pytestmark = pytest.mark.timeout(120)

# Every book page answers 503 at first; retries wait up to 8 s; the crawl is closed after 3 s.
LONG_WAIT = (
    "-s",
    "RETRY_BACKOFF_BASE=8",
    "-s",
    "RETRY_BACKOFF_CAP=8",
    "-s",
    "RETRY_SLOWDOWN_MAX=0",
    "-s",
    "RETRY_BUDGET_RATIO=10",
    "-s",
    "CLOSESPIDER_TIMEOUT=3",
)


def test_without_jobdir_waiting_retries_go_to_the_failures_file(make_sandbox, tmp_path: Path):
    sb = make_sandbox(books=10, fault_503=1.0, fault_kinds=["book"], retry_after=0)
    result = run_crawl(sb.base_url, tmp_path, *LONG_WAIT, timeout=60)
    stats = crawl_stats(result.stderr)
    assert stats["finish_reason"] == "closespider_timeout"
    failures = read_lines(tmp_path / "failures.jsonl")
    assert {f["url"] for f in failures} == {t["url"] for t in sb.truth()}
    assert {f["reason"] for f in failures} == {"closed_while_waiting"}
    assert stats["retry/backoff/closed_while_waiting"] == 10


def test_with_jobdir_waiting_retries_are_resumed(make_sandbox, tmp_path: Path) -> None:
    sb = make_sandbox(books=10, fault_503=1.0, fault_kinds=["book"], retry_after=0)
    jobdir = tmp_path / "job"
    first = run_crawl(
        sb.base_url, tmp_path / "out1", *LONG_WAIT, "-s", f"JOBDIR={jobdir}", timeout=60
    )
    assert crawl_stats(first.stderr)["finish_reason"] == "closespider_timeout"
    assert (jobdir / JOBDIR_FILE).exists()
    assert read_lines(tmp_path / "out1" / "failures.jsonl") == []

    sb.configure(fault_503=0.0)  # the site has recovered
    # Resume after every saved backoff is over: the saved requests are due before the
    # engine runs, the case where they must be re-armed rather than dropped.
    time.sleep(8)
    second = run_crawl(
        sb.base_url,
        tmp_path / "out2",
        "-s",
        f"JOBDIR={jobdir}",
        "-s",
        "RETRY_BACKOFF_BASE=0.1",
        timeout=90,
    )
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Resumed 10 requests that were waiting out a retry backoff" in second.stderr
    assert not (jobdir / JOBDIR_FILE).exists()
    assert {b["url"] for b in read_books(tmp_path / "out2")} == {t["url"] for t in sb.truth()}
