"""The progress display and the streams, with real pseudo-terminals (as a person at a shell):
the bar on stderr, data alone on stdout, every log line in `2>file`."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import termios
import threading
from pathlib import Path
from typing import Any

import pytest

from booksscraper.extensions.counters import pages_discovered
from booksscraper.extensions.progress import ProgressTracker, describe, format_eta
from tests.helpers import REPO, crawl_command
from tests.monitoring.conftest import BOOKS


class Terminal:
    """A pseudo-terminal whose output is read in the background (a full buffer would block)."""

    def __init__(self) -> None:
        self.main_fd, self.child_fd = pty.openpty()
        # A common terminal size: an unsized pty makes rich assume 80 columns.
        fcntl.ioctl(self.child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._drain, daemon=True)

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.main_fd, 65536)
            except OSError:  # EIO: the child closed its end
                return
            if not data:
                return
            self._chunks.append(data)

    def start(self) -> None:
        os.close(self.child_fd)  # the child holds its own copy
        self._reader.start()

    def close(self) -> str:
        """All the terminal showed, with the pty's CR-LF back to LF."""
        self._reader.join(10)
        os.close(self.main_fd)
        return b"".join(self._chunks).decode("utf-8", errors="replace").replace("\r\n", "\n")


def run_on_terminals(
    command: list[str], stderr: Path | str, timeout: float
) -> tuple[int, str, str]:
    """Run ``command`` with stdin and stdout on a pty; stderr on another pty (``"tty"``),
    on the same one (``"same"``) or in a file.

    Returns (exit code, what stdout's terminal showed, what stderr's showed or "")."""
    out = Terminal()
    err = Terminal() if stderr == "tty" else None
    with open(stderr if isinstance(stderr, Path) else os.devnull, "wb") as err_file:
        err_target: Any = err.child_fd if err else out.child_fd if stderr == "same" else err_file
        proc = subprocess.Popen(
            command, cwd=REPO, stdin=out.child_fd, stdout=out.child_fd, stderr=err_target,
            close_fds=True,
        )  # fmt: skip
    out.start()
    if err:
        err.start()
    try:
        code = proc.wait(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return code, out.close(), err.close() if err else ""


def without_escapes(screen: str) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)  # colours and cursor moves


@pytest.mark.timeout(180)
def test_bar_on_stderr_and_pure_json_lines_on_stdout(slow_sandbox: Any, tmp_path: Path) -> None:
    """A person at a shell running `scrapy crawl books -O -:jsonlines`."""
    command = crawl_command(
        slow_sandbox.base_url, tmp_path, "-O", "-:jsonlines", "-s", "PROGRESS_REFRESH=0.2"
    )
    code, stdout, stderr = run_on_terminals(command, "tty", timeout=150)
    assert code == 0, stderr[-3000:]
    # stdout: what was asked for and nothing else.
    lines = stdout.splitlines()
    assert "\x1b" not in stdout
    assert len(lines) == BOOKS
    assert all(json.loads(line)["upc"] for line in lines)
    # stderr: rich redraws the bar in place (cursor moves, bar glyphs), log lines above it.
    assert "\x1b[" in stderr
    assert "━" in stderr
    text = without_escapes(stderr)
    frames = re.findall(r"(\d+)/(\d+) books", text)
    assert len(frames) >= 3, stderr[-3000:]
    # The last frame is drawn at close: every book the site announced settled, and every
    # page fetched (robots.txt is not a page).
    stats = json.loads((tmp_path / "stats.json").read_text(encoding="utf-8"))
    assert tuple(map(int, frames[-1])) == (BOOKS, BOOKS)
    assert f"{pages_discovered(stats)}/" in text
    assert f"{BOOKS} items" in text
    # Never both: no plain progress log lines, but other log lines still show.
    assert "Progress:" not in text
    assert "Crawl summary (finished)" in text


@pytest.mark.timeout(180)
def test_stderr_to_a_file_gets_every_log_line(slow_sandbox: Any, tmp_path: Path) -> None:
    """`scrapy crawl books 2>crawl.log` on a terminal: no bar, the log in the file."""
    log = tmp_path / "crawl.log"
    command = crawl_command(slow_sandbox.base_url, tmp_path / "out", "-s", "PROGRESS_INTERVAL=0.5")
    code, stdout, _ = run_on_terminals(command, log, timeout=150)
    text = log.read_text(encoding="utf-8")
    assert code == 0, text[-3000:]
    assert stdout.strip() == ""
    assert "\x1b" not in text and "━" not in text
    records = re.findall(r"^\S+ \S+ \[[\w.]+\] (DEBUG|INFO|WARNING|ERROR|CRITICAL): ", text, re.M)
    stats = json.loads((tmp_path / "out" / "stats.json").read_text(encoding="utf-8"))
    logged = sum(v for k, v in stats.items() if k.startswith("log_count/"))
    # Every record counted until stats.json was written is in the file (a few come after).
    assert len(records) >= logged > 0
    assert "INFO: Progress: " in text
    assert "INFO: Crawl summary (finished)" in text


@pytest.mark.timeout(180)
def test_no_bar_over_json_lines_on_one_screen(slow_sandbox: Any, tmp_path: Path) -> None:
    """`scrapy crawl books -O -:jsonlines` with stdout and stderr on one terminal."""
    command = crawl_command(
        slow_sandbox.base_url, tmp_path, "-O", "-:jsonlines", "-s", "PROGRESS_INTERVAL=0.5"
    )
    code, screen, _ = run_on_terminals(command, "same", timeout=150)
    assert code == 0, screen[-3000:]
    assert "━" not in screen and "\x1b[" not in screen
    books = [json.loads(line) for line in screen.splitlines() if line.startswith('{"')]
    assert len(books) == BOOKS
    # The figures still come, as lines (the quiet terminal shows them, commands/terminal.py).
    assert any(line.startswith("Progress: ") for line in screen.splitlines()), screen[-3000:]


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
    # "in backoff" is checked on a real crawl's progress lines (test_stats_read_written.py).
    counters.update(proxies_good=4, proxies_dead=1)
    full = describe(counters, 3.25, None, 100 * 2**20)
    assert "proxies 4 good/1 dead" in full
    assert "RSS 100 MiB" in full
    assert "ETA ?" in full
    assert format_eta(3 * 3600 + 61) == "3:01:01"
