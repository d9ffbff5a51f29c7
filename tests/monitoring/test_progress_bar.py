"""The rich progress bar, with stdout a real pseudo-terminal (as a person at a shell)."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path
from typing import Any

import pytest

from booksscraper.extensions.progress import ProgressTracker, describe, format_eta
from tests.helpers import REPO
from tests.monitoring.conftest import BOOKS


def run_in_pty(command: list[str], timeout: float) -> tuple[int, str]:
    """Run ``command`` with stdin/stdout/stderr on a pty; returns (exit code, all it printed)."""
    main_fd, child_fd = pty.openpty()
    # A common terminal size: an unsized pty makes rich assume 80 columns.
    fcntl.ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        command, cwd=REPO, stdin=child_fd, stdout=child_fd, stderr=child_fd, close_fds=True
    )
    os.close(child_fd)
    chunks: list[bytes] = []

    def drain() -> None:  # a full pty buffer would block the crawl
        while True:
            try:
                data = os.read(main_fd, 65536)
            except OSError:  # EIO: the child closed its end
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(10)
        os.close(main_fd)
    return code, b"".join(chunks).decode("utf-8", errors="replace")


@pytest.mark.timeout(180)
def test_bar_on_a_terminal_and_no_progress_log_lines(slow_sandbox: Any, tmp_path: Path) -> None:
    code, screen = run_in_pty(
        [
            sys.executable, "-m", "scrapy", "crawl", "books",
            "-a", f"start_url={slow_sandbox.base_url}",
            "-s", f"OUTPUT_DIR={tmp_path}",
            "-s", "PROGRESS_REFRESH=0.2",
        ],
        timeout=150,
    )  # fmt: skip
    assert code == 0, screen[-3000:]
    # rich redraws the bar in place: cursor movement and the bar glyphs.
    assert "\x1b[" in screen
    assert "━" in screen
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)  # colours and cursor moves
    frames = re.findall(r"(\d+)/(\d+) pages", text)
    assert len(frames) >= 3, screen[-3000:]
    # The last frame is drawn at close: pages received of pages discovered.
    stats = json.loads((tmp_path / "stats.json").read_text(encoding="utf-8"))
    assert tuple(map(int, frames[-1])) == (
        stats["response_received_count"],
        stats["scheduler/enqueued"],
    )
    assert f"{BOOKS} items" in text
    # Never both: no plain progress log lines, but other log lines still show.
    assert "Progress:" not in text
    assert "Crawl summary (finished)" in text


def test_tracker_rate_over_the_window_and_eta() -> None:
    tracker = ProgressTracker(window=10)
    assert tracker.rate == 0.0 and tracker.eta(100) is None
    for second in range(31):
        tracker.update(float(second), second * 5)  # 5 pages/s
    assert tracker.rate == pytest.approx(5.0)
    assert tracker.eta(50) == pytest.approx(10.0)
    assert tracker.eta(0) == 0.0
    # Older readings leave the window: a stall shows up as a falling rate.
    for second in range(31, 36):
        tracker.update(float(second), 150)
    assert tracker.rate == pytest.approx(25 / 10, abs=0.6)


def test_describe_shows_optional_counters_only_when_present() -> None:
    counters = {
        "items": 7, "errors": 1, "retries": 2,
        "backoff_waiting": None, "proxies_good": None, "proxies_dead": None,
    }  # fmt: skip
    plain = describe(counters, 3.25, 65.0, None)
    assert plain == "7 items, 3.2 pages/s, ETA 0:01:05, 1 errors, 2 retries"
    counters.update(backoff_waiting=3, proxies_good=4, proxies_dead=1)
    full = describe(counters, 3.25, None, 100 * 2**20)
    assert "3 in backoff" in full
    assert "proxies 4 good/1 dead" in full
    assert "RSS 100 MiB" in full
    assert "ETA ?" in full
    assert format_eta(3 * 3600 + 61) == "3:01:01"
