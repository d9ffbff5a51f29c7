"""Gives freed heap memory back to the OS now and then (glibc's ``malloc_trim``).

A long crawl allocates and frees a response, a selector tree and an item per
page; glibc keeps much of the freed memory in its arenas, so the process's
RSS creeps up with the catalogue though the live data does not. Calling
``malloc_trim(0)`` every few seconds returns it, at no measurable cost in
time per page. At 100,000 books it took a few MiB off the main process's peak
RSS (3 MiB, 11 in an earlier trial: BENCHMARKS.md, scale); it matters most
after a spike. Off where the C library is not glibc.

Settings (defaults in docs/settings.md):

- ``MEMORY_TRIM_INTERVAL``: seconds between trims; ``0`` switches it off.

Stats: ``memory_trim/calls``, ``memory_trim/seconds`` (time spent trimming).
"""

from __future__ import annotations

import ctypes
import time
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import create_looping_call

from booksscraper.config.readers import number


def glibc_malloc_trim() -> Any | None:
    """glibc's ``malloc_trim``, or None under another C library (musl, macOS, Windows)."""
    try:
        # The symbols the interpreter already has (libc among them): not
        # ctypes.util.find_library, which runs `ldconfig -p` in a subprocess at start-up.
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


class MemoryTrim:
    def __init__(self, crawler: Crawler) -> None:
        self.interval = number(crawler.settings, "MEMORY_TRIM_INTERVAL")  # 0: off
        self.malloc_trim = glibc_malloc_trim()
        if not self.interval or self.malloc_trim is None:
            raise NotConfigured
        self.stats = crawler.stats
        self._task: Any = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> MemoryTrim:
        return cls(crawler)

    def spider_opened(self) -> None:
        self._task = create_looping_call(self.trim)
        self._task.start(self.interval, now=False)

    def spider_closed(self) -> None:
        if self._task is not None and self._task.running:
            self._task.stop()

    def trim(self) -> None:
        started = time.perf_counter()
        self.malloc_trim(0)
        self.stats.inc_value("memory_trim/calls")
        self.stats.inc_value("memory_trim/seconds", time.perf_counter() - started)
