"""Retries still waiting out their backoff when the crawl closes: not attempted, not lost."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def test_without_jobdir_waiting_retries_are_not_attempted(make_sandbox, tmp_path: Path):
    sb = make_sandbox(books=10, fault_503=1.0, fault_kinds=["book"], retry_after=0)
    result = run_crawl(sb.base_url, tmp_path, *LONG_WAIT, timeout=60)
    stats = crawl_stats(result.stderr)
    assert stats["finish_reason"] == "closespider_timeout"
    # Never sent again: the ledger's "not attempted", not failures of the site.
    assert read_lines(tmp_path / "failures.jsonl") == []
    # Full jitter: a retry whose wait came out short may be on the wire at the close (sent
    # again, not waiting); every book is still not attempted, none failed.
    assert 8 <= stats["retry/backoff/closed_while_waiting"] <= 10
    assert stats["ledger/not_attempted"] == 10 and stats["ledger/failed"] == 0


def test_with_jobdir_waiting_retries_are_fetched_again_on_resume(make_sandbox, tmp_path: Path):
    sb = make_sandbox(books=10, fault_503=1.0, fault_kinds=["book"], retry_after=0)
    jobdir = tmp_path / "job"
    first = run_crawl(
        sb.base_url, tmp_path / "out", *LONG_WAIT, "-s", f"JOBDIR={jobdir}", timeout=60
    )
    assert crawl_stats(first.stderr)["finish_reason"] == "closespider_timeout"
    assert read_lines(tmp_path / "out" / "failures.jsonl") == []

    sb.configure(fault_503=0.0)  # the site has recovered
    second = run_crawl(
        sb.base_url, tmp_path / "out", "-s", f"JOBDIR={jobdir}", "-s", "RETRY_BACKOFF_BASE=0.1",
        timeout=90,
    )
    assert second.returncode == 0, second.stderr[-3000:]
    assert {b["url"] for b in read_books(tmp_path / "out")} == {t["url"] for t in sb.truth()}
    assert read_lines(tmp_path / "out" / "failures.jsonl") == []
