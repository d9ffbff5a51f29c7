"""Crash and resume: SIGINT and kill -9 at random points, then resume with the same JOBDIR."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from booksscraper.output.jsonlines import JsonLinesWriter
from booksscraper.sandbox.testing import running_sandbox
from booksscraper.tools.truth import differences
from tests.helpers import REPO, read_books

pytestmark = pytest.mark.timeout(300)


def count_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def start_crawl(base_url: str, out: Path, jobdir: Path) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "scrapy", "crawl", "books",
        "-a", f"start_url={base_url}",
        "-s", f"OUTPUT_DIR={out}", "-s", f"JOBDIR={jobdir}",
        "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8", "-s", "LOG_LEVEL=INFO",
    ]
    return subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def interrupt_mid_crawl(proc: subprocess.Popen, jsonl: Path, sig: int, rng: random.Random) -> None:
    """Wait until this run has exported some books, then a random moment more, then signal."""
    before = count_lines(jsonl)
    deadline = time.monotonic() + 60
    while count_lines(jsonl) < before + 20 and time.monotonic() < deadline:
        assert proc.poll() is None, "the crawl ended before it could be interrupted"
        time.sleep(0.05)
    time.sleep(rng.uniform(0.0, 1.0))
    assert proc.poll() is None, "the crawl ended before it could be interrupted"
    os.kill(proc.pid, sig)
    proc.communicate(timeout=60)


def test_killed_and_interrupted_three_times_then_resumed_every_book_once(tmp_path: Path) -> None:
    seed = int(os.environ.get("RESUME_TEST_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    out, jobdir = tmp_path / "out", tmp_path / "job"
    signals_to_send = [signal.SIGKILL, signal.SIGINT, signal.SIGKILL]
    rng.shuffle(signals_to_send)
    with running_sandbox(books=1000, seed=3, latency_ms=40) as sandbox:
        for sig in signals_to_send:
            proc = start_crawl(sandbox.base_url, out, jobdir)
            interrupt_mid_crawl(proc, out / "books.jsonl", sig, rng)
        exported_before_resume = count_lines(out / "books.jsonl")
        assert exported_before_resume < 1000, f"seed {seed}: nothing left to resume"

        final = start_crawl(sandbox.base_url, out, jobdir)
        _, log = final.communicate(timeout=240)
        truth = sandbox.truth()
    assert final.returncode == 0, f"seed {seed}: {log[-3000:]}"
    books = read_books(out)
    assert differences(books, truth) == [], f"seed {seed}"
    # The crash-safe lines hold no book twice either.
    lines = [json.loads(line) for line in (out / "books.jsonl").read_text().splitlines()]
    assert len(lines) == len({b["upc"] for b in lines}) == 1000, f"seed {seed}"


def test_appending_after_a_crash_drops_the_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "books.jsonl"
    path.write_text('{"upc": "a"}\n{"upc": "b", "ti', encoding="utf-8")
    writer = JsonLinesWriter(path, append=True)
    writer.write({"upc": "c"})
    writer.close()
    assert [json.loads(line)["upc"] for line in path.read_text().splitlines()] == ["a", "c"]
