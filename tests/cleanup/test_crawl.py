"""Real `scrapy crawl` subprocesses with the cleanup pool: exact descriptions end to end,
and no process left behind after any kind of end (normal, Ctrl-C, SIGTERM twice like a
scrapyd cancel, an exception)."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from booksscraper.sandbox.testing import running_sandbox
from tests.cleanup.samples import CATALOGUE
from tests.helpers import REPO, read_books, read_lines

ONLY_CLEANUP_AND_EXPORT = json.dumps({
    "booksscraper.pipelines.cleanup.CleanupPipeline": 300,
    "booksscraper.pipelines.export.ExportPipeline": 900,
})


class Crawl:
    """A `scrapy crawl` subprocess and every process it started, seen while it ran."""

    def __init__(self, log_path: Path, *args: str) -> None:
        # The log goes to a file: a pipe nobody reads would fill up and block the crawl.
        self.log_path = log_path
        with log_path.open("w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "scrapy", "crawl", *args],
                cwd=REPO, stdout=subprocess.DEVNULL, stderr=log,
            )
        self.children: dict[int, psutil.Process] = {}

    def _look(self) -> None:
        try:
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                self.children.setdefault(child.pid, child)
        except psutil.NoSuchProcess:
            pass

    def wait_until(self, condition: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._look()
            if condition():
                return
            time.sleep(0.05)
        raise AssertionError(f"condition not met (exit code {self.proc.poll()})")

    @property
    def stderr(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def finish(self, timeout: float = 120) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._look()
            time.sleep(0.05)
        code = self.proc.poll()
        assert code is not None, f"the crawl did not end within {timeout} s"
        return code

    def assert_no_process_left(self) -> None:
        _gone, alive = psutil.wait_procs(list(self.children.values()), timeout=15)
        assert alive == [], f"left behind: {alive}"

    def kill(self) -> None:
        """Clean up after a failed test (a passing one has nothing left to kill)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for child in self.children.values():
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()


@pytest.fixture(scope="module")
def slow_sandbox() -> Iterator[Any]:
    """Every page takes ~150 ms: a crawl is still running when it is signalled."""
    with running_sandbox(books=1000, seed=7, latency_ms=150) as server:
        yield server


def exported_lines(out_dir: Path) -> int:
    path = out_dir / "books.jsonl"
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_crawl_with_cleanup_gives_the_clean_descriptions(
    sandbox: Any, sandbox_truth: list[dict[str, Any]], tmp_path: Path
) -> None:
    # The last ten listing pages (200 books): a crawl long enough for the pool, its batches
    # and every kind of description the catalogue has.
    crawl = Crawl(tmp_path / "log.txt", "books", "-a",
                  f"start_url={sandbox.base_url}catalogue/page-41.html",
                  "-s", f"OUTPUT_DIR={tmp_path}")
    try:
        assert crawl.finish() == 0, crawl.stderr[-3000:]
        assert len(crawl.children) >= 2  # the pool ran (forkserver, workers)
        assert "'cleanup/pool_started': 1" in crawl.stderr
        # A long crawl: the pool started once the first listing page scheduled its books,
        # before the inline items ran out.
        assert _stat(crawl.stderr, "cleanup/inline_items") < 20
        crawl.assert_no_process_left()
    finally:
        crawl.kill()
    books = {b["url"]: b for b in read_books(tmp_path)}
    listed_last = sorted(sandbox_truth, key=lambda t: -t["book_id"])[800:]  # 20 a page
    truth = {t["url"]: t for t in listed_last}
    assert books.keys() == truth.keys()
    wrong = [url for url, t in truth.items() if books[url]["description"] != t["description"]]
    assert wrong == []
    assert all(books[url]["description_raw"] == t["description_raw"] for url, t in truth.items())
    assert all(b["near_duplicate_of"] is None for b in books.values())
    assert any(b["description_raw"] != b["description"] for b in books.values())
    assert "'cleanup/items': 200" in crawl.stderr


@pytest.mark.timeout(120)
def test_a_one_page_crawl_cleans_inline_and_starts_no_process(
    sandbox: Any, sandbox_truth: list[dict[str, Any]], tmp_path: Path
) -> None:
    book = sandbox_truth[0]
    crawl = Crawl(tmp_path / "log.txt", "books", "-a", f"start_url={book['url']}",
                  "-s", f"OUTPUT_DIR={tmp_path}", "-s", "CLEANUP_WORKERS=2")
    try:
        assert crawl.finish() == 0, crawl.stderr[-3000:]
    finally:
        crawl.kill()
    assert crawl.children == {}, crawl.children  # no forkserver, no worker, at any poll
    assert [b["description"] for b in read_books(tmp_path)] == [book["description"]]
    assert _stat(crawl.stderr, "cleanup/inline_items") == _stat(crawl.stderr, "cleanup/items") == 1
    assert _stat(crawl.stderr, "cleanup/workers") == 2
    assert "cleanup/pool_started" not in crawl.stderr


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_one_signal_stops_gracefully_with_every_item_cleaned(
    slow_sandbox: Any, tmp_path: Path, signum: int
) -> None:
    crawl = Crawl(tmp_path / "log.txt", "books", "-a", f"start_url={slow_sandbox.base_url}",
                  "-s", f"OUTPUT_DIR={tmp_path}", "-s", "LOG_LEVEL=INFO")
    try:
        crawl.wait_until(lambda: exported_lines(tmp_path) >= 20 and len(crawl.children) >= 3)
        crawl.proc.send_signal(signum)
        crawl.finish()
        crawl.assert_no_process_left()
    finally:
        crawl.kill()
    books = read_lines(tmp_path / "books.jsonl")
    assert 20 <= len(books) < 1000  # stopped mid-crawl
    for book in books:
        assert book["description"] == CATALOGUE.book(book["book_id"]).description
    # No item lost on the way: every validated item was cleaned and exported.
    passed = _stat(crawl.stderr, "validation/passed")
    assert passed >= len(books)
    assert passed == _stat(crawl.stderr, "cleanup/items") == _stat(crawl.stderr, "export/items")


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_second_signal_forces_the_stop_and_leaves_no_process(
    slow_sandbox: Any, tmp_path: Path, signum: int
) -> None:
    # Ctrl-C twice, or scrapyd's cancel sent twice (SIGTERM, SIGTERM).
    crawl = Crawl(tmp_path / "log.txt", "books", "-a", f"start_url={slow_sandbox.base_url}",
                  "-s", f"OUTPUT_DIR={tmp_path}", "-s", "CLEANUP_EXTRA_WORK=100")
    try:
        crawl.wait_until(lambda: exported_lines(tmp_path) >= 10 and len(crawl.children) >= 3)
        crawl.proc.send_signal(signum)
        time.sleep(0.3)
        crawl.proc.send_signal(signum)
        crawl.finish(timeout=60)
        crawl.assert_no_process_left()
    finally:
        crawl.kill()
    # Items the forced stop caught mid-cleanup are in the rejects file, not lost.
    for reject in read_lines(tmp_path / "rejects.jsonl"):
        assert reject["reasons"] == ["cleanup_error:PoolClosed"]


@pytest.mark.timeout(120)
def test_an_exception_in_the_spider_leaves_no_process(tmp_path: Path) -> None:
    crawl = Crawl(tmp_path / "log.txt", "cleanup_raiser", "-a", "count=300",
                  "-s", "SPIDER_MODULES=tests.cleanup.spiders", "-s", "ADDONS={}",
                  "-s", f"ITEM_PIPELINES={ONLY_CLEANUP_AND_EXPORT}",
                  "-s", f"OUTPUT_DIR={tmp_path}")
    try:
        crawl.finish()
        assert "RuntimeError: the spider failed on purpose" in crawl.stderr
        assert len(crawl.children) >= 2, crawl.stderr[-3000:]
        crawl.assert_no_process_left()
    finally:
        crawl.kill()
    books = read_lines(tmp_path / "books.jsonl")
    assert sorted(b["book_id"] for b in books) == list(range(1, 301))
    assert all(b["description"] == CATALOGUE.book(b["book_id"]).description for b in books)


def _stat(log: str, key: str) -> int:
    """A counter from the stats Scrapy dumps at the end of the log (0 when absent)."""
    marker = f"'{key}': "
    at = log.rfind(marker)
    if at < 0:
        return 0
    return int(log[at + len(marker):].split(",", 1)[0].split("}", 1)[0])
