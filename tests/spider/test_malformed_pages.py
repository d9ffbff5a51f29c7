"""Malformed book pages: fetched again, every bad copy kept in the rejects file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from booksscraper.sandbox.testing import running_sandbox
from booksscraper.tools.truth import differences
from tests.helpers import read_books, read_lines, run_crawl

pytestmark = pytest.mark.timeout(300)

BOOKS = 100


def test_malformed_pages_are_fetched_again_and_every_book_arrives(tmp_path: Path) -> None:
    faults = {"fault_no_price": 0.1, "fault_bad_rating": 0.05, "fault_empty": 0.05}
    with running_sandbox(books=BOOKS, seed=11, fault_kinds="book", **faults) as sandbox:
        result = run_crawl(sandbox.base_url, tmp_path, "-s", "REFETCH_INVALID_PAGES=6")
        truth = sandbox.truth()
        served = sandbox.stats()
    assert result.returncode == 0, result.stderr[-3000:]
    assert differences(read_books(tmp_path), truth) == []

    rejects = read_lines(tmp_path / "rejects.jsonl")
    assert rejects, "the sandbox served malformed pages, yet none was recorded"
    assert {r["stage"] for r in rejects} == {"malformed_page"}
    reasons = Counter(reason.split(":")[0] for r in rejects for reason in r["reasons"])
    assert reasons["price_missing"] > 0 and reasons["rating_missing"] > 0
    assert all(r["url"] and r["item"]["url"] == r["url"] for r in rejects)
    # Each bad copy was fetched again: book pages requested = books + bad copies.
    assert f"'malformed_page/rejected': {len(rejects)}" in result.stderr
    assert served["requests_total"] >= BOOKS + len(rejects)


def test_pages_that_stay_malformed_are_rejected_with_reasons_and_counted(tmp_path: Path) -> None:
    with running_sandbox(books=40, seed=5, fault_kinds="book", fault_no_price=1.0) as sandbox:
        # The circuit breaker off: this crawl shows what becomes of every copy.
        result = run_crawl(sandbox.base_url, tmp_path, "-s", "REFETCH_INVALID_PAGES=1",
                           "-s", "MONITOR_BREAKER_PAGES=0")
    # Not a silent success: a crawl that exports no book exits 1 and says why.
    assert result.returncode == 1, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1].startswith(
        "error: the crawl finished without a single book (")
    assert read_books(tmp_path) == []
    rejects = read_lines(tmp_path / "rejects.jsonl")
    final = [r for r in rejects if r["stage"] == "validation"]
    assert len(final) == 40
    assert len([r for r in rejects if r["stage"] == "malformed_page"]) == 40
    assert all("price_missing" in r["reasons"] for r in final)
    assert sorted(r["item"]["book_id"] for r in final) == list(range(1, 41))
    assert "'validation/rejected/price_missing': 40" in result.stderr
