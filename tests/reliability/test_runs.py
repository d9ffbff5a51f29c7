"""Runs never harm each other: one crawl owns its OUTPUT_DIR and JOBDIR, a crawl that stops
early leaves the previous results, folders are made race-free, temporary files never follow
a planted symlink. Real `scrapy crawl books` processes, real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from booksscraper.output.jsonlines import create_temporary
from booksscraper.sandbox.testing import running_sandbox
from booksscraper.tools.truth import differences
from tests.helpers import REPO, crawl_command, read_books, run_crawl

pytestmark = pytest.mark.timeout(300)


def start(start_url: str, out: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as f:
        return subprocess.Popen(crawl_command(start_url, out, "-s", "LOG_LEVEL=INFO", *args),
                                cwd=REPO, stdout=f, stderr=subprocess.STDOUT)


def wait_for(proc: subprocess.Popen[bytes], ready, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"the crawl ended before {what}"
        assert time.monotonic() < deadline, f"no {what} after {timeout} s"
        time.sleep(0.05)


# A crawl slow enough to be caught mid-way: 100 ms a page, two at a time.
SLOW = ("-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2")


def writing(proc: subprocess.Popen[bytes], out: Path, books: int) -> bool:
    """Whether ``proc`` has set the previous files aside and written ``books`` of its own."""
    try:
        stats = json.loads((out / "stats.json").read_text())
    except (OSError, ValueError):
        return False
    return stats.get("pid") == proc.pid and lines(out / "books.jsonl") >= books


def lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def test_a_second_crawl_is_refused_and_the_first_ends_with_every_book(tmp_path: Path) -> None:
    out, jobdir, log = tmp_path / "out", tmp_path / "job", tmp_path / "first.log"
    with running_sandbox(books=200, seed=5, latency_ms=100) as sb:
        first = start(sb.base_url, out, log, "-s", f"JOBDIR={jobdir}", *SLOW)
        wait_for(first, lambda: lines(out / "books.jsonl") >= 5, "its first books")
        before = sorted(p.name for p in out.iterdir())
        # The same OUTPUT_DIR (a cron overlap); another OUTPUT_DIR on the same JOBDIR.
        contenders = [
            subprocess.Popen(crawl_command(sb.base_url, folder, *args), cwd=REPO, text=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for folder, args in ((out, ()), (tmp_path / "other", ("-s", f"JOBDIR={jobdir}")))]
        errors = [c.communicate(timeout=60)[1] for c in contenders]
        (same_out, same_job), (out_err, job_err) = [c.returncode for c in contenders], errors
        assert first.poll() is None, "the first crawl ended too soon to be contended"
        first.wait(timeout=200)
        truth = sb.truth()
    assert same_out == 2, out_err[-3000:]
    line = last_line(out_err)
    assert line.startswith(f"error: OUTPUT_DIR: {out} is in use by another crawl "
                           f"(pid {first.pid}, started "), line
    assert "Traceback" not in out_err and "Spider opened" not in out_err
    assert same_job == 2 and last_line(job_err).startswith(
        f"error: JOBDIR: {jobdir} is in use by another crawl (pid {first.pid}"), job_err
    assert before[0] == ".crawl.lock" and not (tmp_path / "other" / "books.jsonl").exists()
    assert first.returncode == 0, log.read_text()[-3000:]
    assert differences(read_books(out), truth) == []
    assert lines(out / "books.jsonl") == 200  # no second writer: no duplicate, no mixed line


def test_a_crawl_stopping_early_never_leaves_less_than_it_found(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with running_sandbox(books=100, seed=8, latency_ms=100) as sb:
        done = run_crawl(sb.base_url, out)
        assert done.returncode == 0, done.stderr[-3000:]
        finished = {name: (out / name).read_bytes() for name in ("books.json", "stats.json")}

        # Ctrl-C just after the spider opens: the previous results, byte for byte.
        log = tmp_path / "early.log"
        early = start(sb.base_url, out, log, *SLOW)
        wait_for(early, lambda: "Spider opened" in log.read_text(errors="replace"),
                 "Spider opened")
        os.kill(early.pid, signal.SIGINT)
        assert early.wait(timeout=60) == 0, log.read_text()[-3000:]
        assert {name: (out / name).read_bytes() for name in finished} == finished
        assert not (out / "previous").exists()

        # kill -9 mid-crawl: its own books as written, a status saying so, the last
        # finished crawl's results kept beside them.
        killed = start(sb.base_url, out, tmp_path / "killed.log", *SLOW)
        wait_for(killed, lambda: writing(killed, out, 10), "its first books")
        killed.kill()
        killed.wait(timeout=30)
        assert json.loads((out / "stats.json").read_text())["output/status"] == "running"
        assert {n: (out / "previous" / n).read_bytes() for n in finished} == finished
        assert 10 <= lines(out / "books.jsonl") < 100

        # SIGTERM with books out: its partial results, status "partial"; previous/ kept.
        log = tmp_path / "term.log"
        term = start(sb.base_url, out, log, *SLOW)
        wait_for(term, lambda: writing(term, out, 10), "its first books")
        os.kill(term.pid, signal.SIGTERM)
        assert term.wait(timeout=60) == 0, log.read_text()[-3000:]
        stats = json.loads((out / "stats.json").read_text())
        assert (stats["finish_reason"], stats["output/status"]) == ("shutdown", "partial")
        assert 10 <= len(read_books(out)) < 100
        assert {n: (out / "previous" / n).read_bytes() for n in finished} == finished

        # The next crawl that finishes replaces both.
        again = run_crawl(sb.base_url, out)
        truth = sb.truth()
    assert again.returncode == 0, again.stderr[-3000:]
    assert differences(read_books(out), truth) == []
    assert json.loads((out / "stats.json").read_text())["output/status"] == "complete"
    assert not (out / "previous").exists()


def test_three_workers_starting_at_once_into_a_missing_parent_all_run(tmp_path: Path) -> None:
    parent = tmp_path / "missing" / "deeper"
    with running_sandbox(books=20, seed=2) as sb:
        workers = [subprocess.Popen(crawl_command(sb.base_url, parent / f"w{i}"), cwd=REPO,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                   for i in range(3)]
        results = [(w.wait(timeout=200), w.stderr.read()) for w in workers]  # type: ignore[union-attr]
        truth = sb.truth()
    for status, stderr in results:
        assert status == 0, stderr[-3000:]
    for i in range(3):
        assert differences(read_books(parent / f"w{i}"), truth) == []


def test_a_planted_symlink_is_never_followed(tmp_path: Path, monkeypatch) -> None:
    out, target = tmp_path / "out", tmp_path / "outside.txt"
    out.mkdir()
    target.write_text("not the crawl's\n")
    # The names temporary files had, and the exact name the next one would take.
    for name in (".books.json.tmp", ".stats.json.tmp", ".books.json.planted.tmp"):
        (out / name).symlink_to(target)
    names = iter(["planted", "fresh"])
    monkeypatch.setattr("booksscraper.output.jsonlines.secrets.token_hex", lambda n: next(names))
    tmp, f = create_temporary(out / "books.json")
    f.close()
    assert tmp.name == ".books.json.fresh.tmp" and not tmp.is_symlink()
    tmp.unlink()
    with running_sandbox(books=20, seed=4) as sb:
        result = run_crawl(sb.base_url, out)
        truth = sb.truth()
    assert result.returncode == 0, result.stderr[-3000:]
    assert target.read_text() == "not the crawl's\n"
    assert not (out / "books.json").is_symlink()
    assert differences(read_books(out), truth) == []
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]  # planted links removed
