"""One crawl at a time in an ``OUTPUT_DIR`` and a ``JOBDIR``: an OS lock held for its life.

``CrawlLock`` (an extension, built before any component that writes) makes each folder
(``makedirs``: what is missing is created, nothing is ever removed) and takes
``fcntl.flock`` on ``LOCK_FILE`` in it before anything else touches it. The kernel drops
the lock when the process ends, ``kill -9`` included, so it never goes stale; the pid and
start time written in the file only name the holder when a second crawl is refused:

``error: OUTPUT_DIR: output is in use by another crawl (pid 4242, started 2026-…); wait
for it to end or give another OUTPUT_DIR`` (exit 2, nothing touched).

The lock file stays in the folder: removing it would let two crawls lock two files.
"""

from __future__ import annotations

import fcntl
import os
from datetime import UTC, datetime
from pathlib import Path

from scrapy import signals
from scrapy.crawler import Crawler

from booksscraper.config.errors import BadConfig
from booksscraper.config.readers import boolean
from booksscraper.output.folder import output_folder

LOCK_FILE = ".crawl.lock"


def make_folder(folder: Path, setting: str) -> None:
    """``folder`` and its missing parents, race-free (another process may make them too)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadConfig(f"{setting}: cannot create folder {folder}: {exc.strerror}") from None


class FolderLock:
    """An exclusive, non-blocking ``flock`` on ``folder/LOCK_FILE``; BadConfig if held."""

    def __init__(self, folder: Path, setting: str) -> None:
        self.folder, self.setting = folder, setting
        self.fd: int | None = None

    def acquire(self) -> None:
        make_folder(self.folder, self.setting)
        path = self.folder / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise BadConfig(f"{self.setting}: cannot lock {path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "pid unknown"
            os.close(fd)
            raise BadConfig(
                f"{self.setting}: {self.folder} is in use by another crawl ({holder}); wait for "
                f"it to end or give another {self.setting}") from None
        except OSError as exc:  # a file system without locks
            os.close(fd)
            raise BadConfig(f"{self.setting}: cannot lock {path}: {exc.strerror}") from None
        started = datetime.now(UTC).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {started}\n".encode(), 0)
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the last descriptor drops the lock
            self.fd = None


class CrawlLock:
    """Holds ``OUTPUT_DIR`` (when the crawl writes output) and ``JOBDIR`` for the crawl."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.locks: list[FolderLock] = []
        if boolean(settings, "OUTPUT_ENABLED"):
            self.locks.append(FolderLock(output_folder(settings), "OUTPUT_DIR"))
        jobdir = settings.get("JOBDIR")
        if jobdir and not any(Path(jobdir).resolve() == lock.folder.resolve()
                              for lock in self.locks):
            self.locks.append(FolderLock(Path(jobdir), "JOBDIR"))
        try:
            for lock in self.locks:
                lock.acquire()
        except BadConfig:
            self.release()
            raise
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlLock:
        return cls(crawler)

    def spider_closed(self) -> None:
        # Connected this late, the release runs after every other engine_stopped handler (the
        # summary's last stats write, the output folder's settling, connected when it started).
        self.crawler.signals.connect(self.release, signal=signals.engine_stopped)

    def release(self) -> None:
        for lock in self.locks:
            lock.release()
