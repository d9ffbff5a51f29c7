"""Incremental re-crawls of the sandbox: what changed, measured against its ground truth, and
what it cost, measured at the server (``/__stats`` bytes_sent)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from booksscraper.sandbox.testing import RunningSandbox, running_sandbox
from tests.helpers import REPO, read_lines, run_crawl

pytestmark = pytest.mark.timeout(600)


def crawl(sb: RunningSandbox, out: Path, *args: str, status: int = 0) -> dict[str, Any]:
    """One crawl from zeroed sandbox stats; returns the server's stats of it."""
    sb.reset()
    result = run_crawl(sb.base_url, out, *args)
    assert result.returncode == status, result.stderr[-3000:]
    return sb.stats()


def truth_of_changes(sb: RunningSandbox) -> list[dict[str, Any]]:
    return [json.loads(line) for line in sb._call("__changes.jsonl").splitlines()]


def assert_reported(out: Path, truth: list[dict[str, Any]]) -> None:
    """changes.jsonl holds exactly the books of the truth, each with the right old/new values."""
    got = {c["upc"]: c for c in read_lines(out / "changes.jsonl")}
    want = {c["upc"]: c for c in truth}
    assert sorted(got) == sorted(want)
    for upc, change in want.items():
        mine = got[upc]
        assert (mine["change"], mine["url"]) == (change["change"], change["url"]), upc
        # The crawl also reports fields derived from them (word_count...): the truth's must match.
        assert {k: v for k, v in mine["fields"].items() if k in change["fields"]
                or k in ("price", "availability", "rating", "description")} == change["fields"]


def stats_of(out: Path) -> dict[str, Any]:
    return json.loads((out / "stats.json").read_text(encoding="utf-8"))


def test_400_books_unchanged_then_47_changes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with running_sandbox(books=400, seed=19) as sb:
        full = crawl(sb, out)
        assert full["by_status"] == {"200": 420, "404": 1}  # 20 listings, 400 books, robots
        assert not (out / "changes.jsonl").exists()  # nothing to compare with yet

        again = crawl(sb, out)
        assert read_lines(out / "changes.jsonl") == []
        assert stats_of(out)["changes/summary"] == "0 new, 0 removed, 0 changed"
        assert again["by_status"] == {"304": 420, "404": 1}
        assert again["bytes_sent"] <= 0.05 * full["bytes_sent"], (again, full)
        assert len(json.loads((out / "books.json").read_text())) == 400

        sb.configure(changes={"price": 15, "availability": 10, "rating": 7, "description": 5,
                              "add": 5, "remove": 5, "seed": 1})
        truth = truth_of_changes(sb)
        assert len(truth) == 47
        crawl(sb, out)
        assert_reported(out, truth)
        stats = stats_of(out)
        assert (stats["changes/new"], stats["changes/removed"], stats["changes/changed"]) == (
            5, 5, 37)
        assert stats["changes/summary"].startswith("5 new, 5 removed, 37 changed: ")
        assert len(json.loads((out / "books.json").read_text())) == 400


def test_failed_pages_are_failures_not_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with running_sandbox(books=200, seed=3) as sb:
        crawl(sb, out)
        sb.configure(changes={"price": 2, "remove": 3, "seed": 2})
        truth = truth_of_changes(sb)
        gone = {c["url"] for c in truth}
        broken = [b["url"] for b in sb.truth() if b["url"] not in gone][:10]
        sb.configure(broken_paths={u.removeprefix(sb.base_url[:-1]): "500" for u in broken})
        crawl(sb, out, "-s", "RETRY_TIMES=1", status=3)  # the monitors flag the failures
        assert {f["url"] for f in read_lines(out / "failures.jsonl")} == set(broken)
        assert_reported(out, truth)  # the 3 removed and 2 changed; not the 10 failed
        stats = stats_of(out)
        assert stats["changes/not_checked"] == 10 and stats["changes/removed"] == 3
        assert "10 not checked" in stats["changes/summary"]

        # The failed books kept their last values in the state: fixed, they are no change.
        sb.configure(broken_paths={})
        crawl(sb, out)
        assert read_lines(out / "changes.jsonl") == []


def test_without_validators_the_same_changes_from_a_full_fetch(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with running_sandbox(books=200, seed=5, validators=False) as sb:
        full = crawl(sb, out)
        sb.configure(changes={"price": 4, "availability": 3, "rating": 2, "description": 1,
                              "add": 2, "remove": 2, "seed": 9})
        truth = truth_of_changes(sb)
        again = crawl(sb, out)
        assert_reported(out, truth)
        assert "304" not in again["by_status"]
        assert again["bytes_sent"] > 0.9 * full["bytes_sent"]

        # INCREMENTAL=False: a plain full crawl, no comparison (and no stale changes.jsonl).
        state = states(out)
        crawl(sb, out, "-s", "INCREMENTAL=False")
        assert not (out / "changes.jsonl").exists()
        assert states(out) == state

        # Another start URL (a category): its own state beside the catalogue's, not compared.
        category = sb.base_url + "catalogue/category/books/default_15/index.html"
        result = run_crawl(category, out)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "no previous run to compare with" in result.stderr
        assert not (out / "changes.jsonl").exists()
        both = states(out)
        assert {k: v for k, v in both.items() if k in state} == state  # the catalogue's kept
        runs = [json.loads(v) for k, v in both.items() if k.endswith("run.json")]
        assert sorted(r["start_url"] for r in runs) == sorted([sb.base_url, category])
        assert min(r["books"] for r in runs) < 100

        # And the whole catalogue again compares with its own history.
        crawl(sb, out)
        assert read_lines(out / "changes.jsonl") == []
        assert stats_of(out)["changes/summary"] == "0 new, 0 removed, 0 changed"


def states(out: Path) -> dict[str, bytes]:
    """Every scope's state files (the page cache aside), by path under the history folder."""
    history = out / "incremental"
    return {str(p.relative_to(history)): p.read_bytes() for p in sorted(history.glob("*/*"))
            if p.is_file()}


def test_an_interrupted_crawl_resumed_with_jobdir(tmp_path: Path) -> None:
    out, jobdir = tmp_path / "out", tmp_path / "job"
    with running_sandbox(books=200, seed=11) as sb:
        crawl(sb, out)
        sb.configure(changes={"price": 6, "add": 3, "remove": 3, "seed": 4})
        truth = truth_of_changes(sb)
        crawl(sb, out, "-s", f"JOBDIR={jobdir}", "-s", "CLOSESPIDER_ITEMCOUNT=40")
        stats = stats_of(out)
        assert stats["finish_reason"] == "closespider_itemcount"
        assert stats["changes/removed"] == 0  # not finished: nothing is said removed
        crawl(sb, out, "-s", f"JOBDIR={jobdir}")
        assert_reported(out, truth)


def test_scrapyd_jobs_compare_with_the_last_finished_job_of_their_scope(tmp_path: Path) -> None:
    """Under scrapyd each job writes to output/<job>/ (the spider's rule, or OUTPUT_DIR on the
    command line as `make schedule` gives it); every job shares output/incremental/. A job
    stopped (SIGTERM, as scrapyd's cancel) in between leaves that history as it was."""
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "booksscraper.settings",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}

    def job(name: str, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "scrapy", "crawl", "books", "-a", f"start_url={sb.base_url}",
             "-a", f"_job={name}", *args],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    with running_sandbox(books=100, seed=13, latency_ms=20) as sb:
        first = job("job1")
        assert first.wait(timeout=240) == 0, first.stderr.read()  # type: ignore[union-attr]
        history = states(tmp_path / "output")
        sb.configure(changes={"rating": 4, "remove": 1, "seed": 3})
        cancelled = job("job2", "-s", "OUTPUT_DIR=output/job2")
        jsonl = tmp_path / "output" / "job2" / "books.jsonl"
        deadline = time.monotonic() + 60
        while not (jsonl.exists() and jsonl.read_bytes().count(b"\n") >= 5):
            assert cancelled.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        cancelled.send_signal(signal.SIGTERM)
        assert cancelled.wait(timeout=60) == 0
        assert states(tmp_path / "output") == history
        sb.reset()
        third = job("job3", "-s", "OUTPUT_DIR=output/job3")
        assert third.wait(timeout=240) == 0, third.stderr.read()  # type: ignore[union-attr]
        assert sb.stats()["by_status"].get("304", 0) > 90
        assert_reported(tmp_path / "output" / "job3", truth_of_changes(sb))
    assert not (tmp_path / "output" / "job1" / "incremental").exists()
