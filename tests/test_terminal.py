"""A quiet terminal: on a tty, warnings, errors and the result; the full log in OUTPUT_DIR.

Real crawls of a small sandbox, with stderr on a real pseudo-terminal (pty) or a pipe.
"""

from __future__ import annotations

import os
import pty
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from booksscraper.sandbox.testing import running_sandbox
from tests.helpers import REPO, crawl_command, run_crawl


@pytest.fixture(scope="module")
def small_site() -> Iterator[Any]:
    with running_sandbox(books=40, seed=3) as server:
        yield server


def crawl_on_a_terminal(start_url: str, out: Path, *args: str) -> tuple[int, list[str]]:
    """The crawl with stderr on a pty: (exit status, what the terminal showed, line by line)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(crawl_command(start_url, out, "-s", "PROGRESS=off", *args),
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=terminal)
    os.close(terminal)
    shown = bytearray()
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the crawl closed its end
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    status = process.wait(timeout=240)
    lines = shown.decode(errors="replace").replace("\r\n", "\n").splitlines()
    return status, [line for line in lines if line.strip()]


def test_a_terminal_shows_the_result_and_names_the_full_log(small_site: Any,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "out"
    status, shown = crawl_on_a_terminal(small_site.base_url, out)
    assert status == 0
    assert shown[-1] == f"full log: {out}/crawl.log"
    assert shown[0].startswith("Crawl summary (finished): 40 books exported of 40 announced")
    assert len(shown) == 2  # no banner, component lists or stats dump
    log = (out / "crawl.log").read_text(encoding="utf-8")
    assert "Scrapy 2.19" in log and "Dumping Scrapy stats" in log
    assert "Spider closed (finished)" in log


def test_a_pipe_or_a_chosen_level_is_scrapys_usual_log(small_site: Any, tmp_path: Path) -> None:
    piped = run_crawl(small_site.base_url, tmp_path / "piped")
    assert piped.returncode == 0
    assert "Dumping Scrapy stats" in piped.stderr
    assert not (tmp_path / "piped" / "crawl.log").exists()

    status, shown = crawl_on_a_terminal(small_site.base_url, tmp_path / "level",
                                        "-s", "LOG_LEVEL=DEBUG")
    assert status == 0
    assert any("Dumping Scrapy stats" in line for line in shown)
    assert not (tmp_path / "level" / "crawl.log").exists()


def test_make_crawl_prints_the_command_it_runs_with_its_interpreter(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "booksscraper.tools.sandbox_crawl", "--books", "20",
         "--output-dir", str(tmp_path / "out")],
        cwd=REPO, capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    command = shlex.split(result.stdout.splitlines()[0])
    assert command[0] == "$"
    assert Path(REPO, command[1]).resolve() == Path(sys.executable).resolve()
    assert command[2:5] == ["-m", "scrapy", "crawl"]
    assert "matches the ground truth of 20 books" in result.stdout.splitlines()[-1]


def test_the_log_is_one_crawl_s_refused_or_piped(small_site: Any, tmp_path: Path) -> None:
    """A crawl refused by the folder's lock leaves the log there as it was; a piped crawl
    (no log of its own) leaves no older crawl's log beside its files."""
    from booksscraper.output.lock import FolderLock

    out = tmp_path / "out"
    status, _ = crawl_on_a_terminal(small_site.base_url, out)
    assert status == 0
    before = (out / "crawl.log").read_bytes()

    holder = FolderLock(out, "OUTPUT_DIR")  # as a running crawl holds it
    holder.acquire()
    try:
        status, shown = crawl_on_a_terminal(small_site.base_url, out)
    finally:
        holder.release()
    assert status == 2 and shown[-1].startswith("error: OUTPUT_DIR:"), shown
    assert (out / "crawl.log").read_bytes() == before
    assert not list(out.glob(".crawl-*.log"))

    piped = run_crawl(small_site.base_url, out)
    assert piped.returncode == 0, piped.stderr[-2000:]
    assert not (out / "crawl.log").exists()
