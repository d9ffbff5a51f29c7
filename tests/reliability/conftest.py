"""Fixtures of the reliability tests: real tinyproxy proxies, a crawl whose peak memory is known."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import REPO, crawl_command


@dataclass
class Crawl:
    returncode: int
    stderr: str
    max_rss_bytes: int  # peak resident memory of the crawl process (wait4's ru_maxrss)


def start_crawl(start_url: str, out_dir: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    """A `scrapy crawl books` subprocess logging to ``log`` (a file: no pipe to fill up)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as f:
        return subprocess.Popen(
            crawl_command(start_url, out_dir, *args), cwd=REPO, stdout=f, stderr=subprocess.STDOUT
        )


def finish_crawl(proc: subprocess.Popen[bytes], log: Path, timeout: float) -> tuple[int, str]:
    """Wait for the crawl (killed after ``timeout`` s): its exit code and log."""
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return proc.returncode, log.read_text(errors="replace")


def run_measured_crawl(start_url: str, out_dir: Path, *args: str, timeout: float = 120) -> Crawl:
    """Run a crawl to its end; its peak memory comes from os.wait4 (Linux ru_maxrss is in KiB)."""
    log = out_dir.parent / f"{out_dir.name}.log"
    proc = start_crawl(start_url, out_dir, log, *args)
    timer = threading.Timer(timeout, lambda: os.kill(proc.pid, signal.SIGKILL))
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Crawl(proc.returncode, log.read_text(errors="replace"), usage.ru_maxrss * 1024)
