"""The history survives: the same JOBDIR twice is two crawls that compare, and damaged state
files and a damaged page cache are named, survived and replaced, never read as changes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from booksscraper.output.jsonlines import read_json_lines
from booksscraper.sandbox.testing import running_sandbox
from tests.helpers import run_crawl
from tests.incremental.test_incremental_crawl import (
    assert_reported,
    crawl,
    stats_of,
    truth_of_changes,
)

pytestmark = pytest.mark.timeout(300)


def test_the_same_jobdir_twice_reports_the_changes(tmp_path: Path) -> None:
    out, jobdir = tmp_path / "out", tmp_path / "job"
    with running_sandbox(books=100, seed=21) as sb:
        crawl(sb, out, "-s", f"JOBDIR={jobdir}")
        sb.configure(changes={"price": 5, "add": 2, "remove": 2, "seed": 6})
        server = crawl(sb, out, "-s", f"JOBDIR={jobdir}")
        assert server["by_kind"]["book"] >= 100  # a new crawl, not a resume of a finished one
        assert_reported(out, truth_of_changes(sb))
        assert "resume/discarded_state" not in stats_of(out)


def only_state(out: Path) -> Path:
    (state,) = (out / "incremental").iterdir()
    return state


def test_damaged_state_and_cache_are_named_survived_and_replaced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with running_sandbox(books=100, seed=23) as sb:
        crawl(sb, out)
        state = only_state(out)
        books = state / "books.jsonl"
        data = books.read_bytes()
        books.write_bytes(data[: len(data) // 2])  # a power cut

        result = run_crawl(sb.base_url, out)
        assert result.returncode == 0, result.stderr[-3000:]
        warnings = [line for line in result.stderr.splitlines()
                    if "WARNING" in line and "damaged state" in line]
        assert len(warnings) == 1 and str(books) in warnings[0], result.stderr[-3000:]
        stats = stats_of(out)
        assert stats["changes/state_damaged"] == str(books)
        assert stats["changes/summary"].startswith("not compared: damaged state")
        assert "Changes since the last run: not compared: damaged state" in result.stderr
        assert "changes/new" not in stats and not (out / "changes.jsonl").exists()
        assert books.read_bytes().count(b"\n") == 100  # a fresh state

        # Garbage in the state's lines, and a page cache that is not a database.
        books.write_bytes(books.read_bytes() + b'["garbage"]\n\xff\xfe not json\n')
        cache = state / "httpcache" / "pages.sqlite"
        cache.write_bytes(os.urandom(8192))
        for sidecar in ("pages.sqlite-wal", "pages.sqlite-shm"):
            (state / "httpcache" / sidecar).unlink(missing_ok=True)
        result = run_crawl(sb.base_url, out)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "Traceback" not in result.stderr
        assert "damaged page cache" in result.stderr and "damaged state" in result.stderr
        aside = [p.name for p in cache.parent.iterdir()
                 if p.name.startswith("pages.sqlite.damaged-")]
        assert aside and stats_of(out)["incremental/cache_damaged"].endswith(aside[0])
        assert "changes/new" not in stats_of(out)

        # The next run compares with the fresh state, exactly, through the rebuilt cache.
        sb.configure(changes={"rating": 3, "remove": 1, "add": 1, "seed": 2})
        server = crawl(sb, out)
        assert server["by_status"].get("304", 0) > 90
        assert_reported(out, truth_of_changes(sb))


def test_undecodable_bytes_in_the_books_file_are_skipped_on_resume(tmp_path: Path) -> None:
    out, jobdir = tmp_path / "out", tmp_path / "job"
    with running_sandbox(books=100, seed=25) as sb:
        crawl(sb, out, "-s", f"JOBDIR={jobdir}", "-s", "CLOSESPIDER_ITEMCOUNT=20")
        with (out / "books.jsonl").open("ab") as f:
            f.write(b'{"url": "http://torn\xff\xfe\x00garbage\n\x80\x81 more\n{"upc": ')
        result = run_crawl(sb.base_url, out, "-s", f"JOBDIR={jobdir}")
        truth = sb.truth()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "UnicodeDecodeError" not in result.stderr
    stats = stats_of(out)
    assert stats["resume/skipped_lines"] == 3  # two damaged lines and the torn last one
    books = json.loads((out / "books.json").read_text(encoding="utf-8"))
    assert sorted(b["upc"] for b in books) == sorted(t["upc"] for t in truth)
    assert len(read_json_lines(out / "books.jsonl")) == 100  # the damaged lines still skipped


def _write_states(state: str, writer: int, rounds: int) -> None:
    from booksscraper.incremental.state import write_state

    for n in range(rounds):
        books = [{"upc": f"{writer}-{n}-{i}", "title": "x" * 200} for i in range(50 + writer)]
        write_state(Path(state), books, "http://127.0.0.1:1/")


def test_two_jobs_of_one_scope_never_leave_a_torn_state(tmp_path: Path) -> None:
    """Two processes writing one scope's state while a third reads it: every read is whole
    (without the lock, one job's books meet the other's header: a damaged state)."""
    import multiprocessing

    from booksscraper.incremental.state import load_run

    state = tmp_path / "scope"
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write_states, args=(str(state), w, 80)) for w in (1, 2)]
    for process in writers:
        process.start()
    reads = 0
    while any(process.is_alive() for process in writers):
        run = load_run(state)  # raises DamagedState on a torn pair
        reads += run is not None
    for process in writers:
        process.join()
        assert process.exitcode == 0
    assert reads > 0 and load_run(state)["books"] in (51, 52)
