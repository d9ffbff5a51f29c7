"""A full disk stops the crawl with exit 4 and loses nothing; a resume finishes the job.

The disk is a real tmpfs too small for the output; the same JOBDIR, once there is room,
exports every book once. Requests that failed for good in one run are fetched again by
the next run with the same JOBDIR.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from booksscraper.output.jsonlines import read_json_lines
from booksscraper.sandbox.testing import running_sandbox
from booksscraper.tools.truth import differences
from tests.helpers import read_books, read_lines, run_crawl

pytestmark = pytest.mark.timeout(180)

FAST = ("-s", "RETRY_BACKOFF_BASE=0.02", "-s", "RETRY_BACKOFF_CAP=0.05")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 128 KiB tmpfs (this machine's tests run as root, as CI does)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_full_disk_stops_with_exit_4_and_the_same_jobdir_finishes(
    small_disk: Path, tmp_path: Path
) -> None:
    out, jobdir = small_disk / "out", tmp_path / "job"
    # The pages an incremental crawl stores for its conditional requests would fill the 128 KiB
    # before the first book: this test is about the books file (a full cache stops the crawl
    # alike, with exit 4).
    full = ("-s", "INCREMENTAL_CONDITIONAL=False")
    with running_sandbox(books=300, seed=4) as sb:
        first = run_crawl(sb.base_url, out, "-s", f"JOBDIR={jobdir}", *full)
        assert first.returncode == 4, first.stderr[-3000:]
        last = first.stderr.strip().splitlines()[-1]
        assert last.startswith(f"error: cannot write {out}/"), last
        assert "No space left on device" in last
        assert "Traceback" not in first.stderr
        assert not [p for p in small_disk.rglob("*") if p.name.endswith(".tmp")]
        written = len(read_json_lines(out / "books.jsonl"))  # a torn last line skipped
        assert 0 < written < 300

        subprocess.run(["mount", "-o", "remount,size=16m", str(small_disk)], check=True)
        second = run_crawl(sb.base_url, out, "-s", f"JOBDIR={jobdir}", *full)
        truth = sb.truth()
    assert second.returncode == 0, second.stderr[-3000:]
    assert differences(read_books(out), truth) == []


def test_requests_that_failed_for_good_are_fetched_again_on_resume(tmp_path: Path) -> None:
    out, jobdir = tmp_path / "out", tmp_path / "job"
    with running_sandbox(books=100, seed=9) as sb:
        truth = sb.truth()
        broken = [t["url"] for t in truth[10:13]]
        sb.configure(broken_paths={"/" + url.split("/", 3)[3]: "500" for url in broken})
        first = run_crawl(sb.base_url, out, "-s", f"JOBDIR={jobdir}", *FAST)
        assert first.returncode == 3, first.stderr[-3000:]  # the monitors: 97 of 100
        assert "error: monitors failed: items: 97 of 100 books exported" in first.stderr
        assert len(read_books(out)) == 97
        assert sorted(f["url"] for f in read_lines(out / "failures.jsonl")) == sorted(broken)

        sb.configure(broken_paths={})  # the site has recovered
        second = run_crawl(sb.base_url, out, "-s", f"JOBDIR={jobdir}", *FAST)
    assert second.returncode == 0, second.stderr[-3000:]
    assert differences(read_books(out), truth) == []
    assert read_lines(out / "failures.jsonl") == []  # the latest run's
