"""Live progress: a rich progress bar on a terminal, a periodic log line elsewhere.

Shows books done against the books the site announced (the ledger's: from the
start page's "N results"), with the pages that implies; before the count is known
(or when the site shows none), pages done against pages discovered. Then items,
books (or pages) per second over the last ``RATE_WINDOW`` seconds, an ETA from that
measured rate, errors, retries, requests waiting out a backoff and proxies good/dead
when those stats exist (see ``counters.py``), RSS when the resource monitor runs.

Settings (defaults in docs/settings.md):

- ``PROGRESS``: ``"bar"`` (rich, redrawn in place on stderr),
  ``"log"`` (an INFO line every ``PROGRESS_INTERVAL`` s), ``"auto"`` (bar when
  stderr is a terminal, log otherwise: scrapyd, CI, ``2>file``, and ``-O -``
  with stdout on the same terminal) or ``"off"``. Never both: in bar mode no
  progress lines are logged.
- ``PROGRESS_INTERVAL``: seconds between log lines (Scrapy's own
  LogStats line comes every 60 s; a crawl of the site takes about a minute).
- ``PROGRESS_REFRESH``: seconds between bar redraws.

Streams: stdout is left to what the user asked for (``-O -:jsonlines`` stays
pure JSON lines). The bar is drawn on stderr, and while it is shown the log
handler that writes to stderr writes through rich's stderr proxy, which prints
each record above the bar, on the same stderr; a ``LOG_FILE`` handler is left
alone. When stderr is not a terminal there is no bar and nothing is touched, so
``2>crawl.log`` gets every log line.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import deque
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.settings import BaseSettings
from scrapy.utils.asyncio import create_looping_call

from booksscraper.config.errors import BadConfig
from booksscraper.config.readers import number, text
from booksscraper.extensions.counters import crawl_counters

logger = logging.getLogger(__name__)

MODES = ("auto", "bar", "log", "off")
RATE_WINDOW = 10.0


def positive(settings: BaseSettings, name: str) -> float:
    """Declared setting ``name``, a number of seconds > 0 (a period of 0 would spin)."""
    value = number(settings, name)
    if value <= 0:
        raise BadConfig(f"{name}: must be greater than 0, got {value}")
    return value


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def bar_fits(feeds: dict[Any, Any]) -> bool:
    """Whether ``PROGRESS=auto`` draws the bar: stderr is a terminal, and not the
    terminal a feed writes to (``-O -`` with both on one screen: the redraws
    would tear the data lines there)."""
    if not sys.stderr.isatty():
        return False
    if not any(str(uri).startswith("stdout:") for uri in feeds) or not sys.stdout.isatty():
        return True
    return os.fstat(sys.stdout.fileno()).st_rdev != os.fstat(sys.stderr.fileno()).st_rdev


class ProgressTracker:
    """Turns successive counter readings into a rate and an ETA."""

    def __init__(self, window: float = RATE_WINDOW) -> None:
        self.window = window
        self._history: deque[tuple[float, int]] = deque()

    def update(self, now: float, pages: int) -> None:
        self._history.append((now, pages))
        while len(self._history) > 2 and now - self._history[1][0] >= self.window:
            self._history.popleft()

    @property
    def rate(self) -> float:
        """Pages per second over the window."""
        if len(self._history) < 2:
            return 0.0
        (t0, p0), (t1, p1) = self._history[0], self._history[-1]
        return (p1 - p0) / (t1 - t0) if t1 > t0 else 0.0

    def eta(self, remaining: int) -> float | None:
        rate = self.rate
        if remaining <= 0:
            return 0.0
        return remaining / rate if rate > 0 else None


def describe(counters: dict[str, Any], rate: float, eta: float | None, rss: int | None,
             unit: str = "pages") -> str:
    """The details after the count, shared by the bar and the log line.

    Most important first: a narrow terminal cuts the end of the line."""
    parts = [
        f"{counters['items']} items",
        f"{rate:.1f} {unit}/s",
        f"ETA {format_eta(eta)}",
        f"{counters['errors']} errors",
        f"{counters['retries']} retries",
    ]
    if counters["backoff_waiting"] is not None:
        parts.append(f"{counters['backoff_waiting']} in backoff")
    if counters["proxies_good"] is not None or counters["proxies_dead"] is not None:
        parts.append(
            f"proxies {counters['proxies_good'] or 0} good/{counters['proxies_dead'] or 0} dead"
        )
    if rss:
        parts.append(f"RSS {rss / 2**20:.0f} MiB")
    return ", ".join(parts)


class Progress:
    def __init__(self, crawler: Crawler, mode: str, interval: float, refresh: float) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.mode = mode
        self.interval = interval if mode == "log" else refresh
        self.tracker = ProgressTracker()
        self._unit = "pages"  # "books" once the site's count is known
        self.opened_at: float | None = None
        self._task: Any = None
        self._bar: Any = None
        self._restore_streams: list[tuple[logging.StreamHandler, Any]] = []
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Progress:
        settings = crawler.settings
        mode = str(text(settings, "PROGRESS")).lower()
        if mode not in MODES:
            raise BadConfig(f"PROGRESS: must be one of {', '.join(MODES)}, got {mode!r}")
        if mode == "auto":
            mode = "bar" if bar_fits(settings.getdict("FEEDS")) else "log"
        if mode == "off":
            raise NotConfigured
        interval = positive(settings, "PROGRESS_INTERVAL")
        refresh = positive(settings, "PROGRESS_REFRESH")
        return cls(crawler, mode, interval, refresh)

    def spider_opened(self) -> None:
        self.opened_at = time.monotonic()
        self.tracker.update(self.opened_at, 0)  # so the first log line has a rate
        if self.mode == "bar":
            self._start_bar()
        self._task = create_looping_call(self.tick)
        # A log line at once would only say "0 pages"; the bar is drawn at once.
        self._task.start(self.interval, now=self.mode == "bar")

    def spider_closed(self) -> None:
        if self.opened_at is None:  # the crawl failed while opening: nothing to report
            return
        if self._task is not None and self._task.running:
            self._task.stop()
        self.tick(final=True)
        if self.mode == "bar":
            self._stop_bar()

    def tick(self, final: bool = False) -> None:
        counters = crawl_counters(self.stats)
        pages = counters["pages"]
        # A cluster worker's scheduler counts no total (the queue is the cluster's): show
        # what the cluster has left (from Redis, cluster/queue/*) and no total or ETA.
        cluster = self.stats.get_value("cluster/queue/queued")
        if counters["books_announced"] and cluster is None:  # the site's own total
            unit, done, total = "books", counters["books_done"], counters["books_announced"]
            pages_part = f"{pages}/{counters['pages_implied']} pages, "
        else:
            unit, done, total = "pages", pages, max(counters["discovered"], pages, 1)
            pages_part = ""
        if unit != self._unit:  # the count became known: the rate starts again in books
            self._unit, self.tracker = unit, ProgressTracker()
            self.tracker.update(self.opened_at or time.monotonic(), 0)
        now = time.monotonic()
        self.tracker.update(now, done)
        if final:  # the whole crawl's average, and nothing left to wait for
            rate, eta = done / max(now - (self.opened_at or now), 1e-9), 0.0
        elif cluster is not None:
            rate, eta = self.tracker.rate, None
        else:
            rate, eta = self.tracker.rate, self.tracker.eta(max(total - done, 0))
        detail = pages_part + describe(counters, rate, eta,
                                       self.stats.get_value("monitor/rss_bytes"), unit)
        if cluster is not None:
            leased = self.stats.get_value("cluster/queue/leased", 0)
            detail = f"cluster: {cluster} queued, {leased} leased, {detail}"
        if self._bar is not None:
            self._bar.update(self._bar_task, completed=done,
                             total=None if cluster is not None else total, detail=detail,
                             unit=unit)
            self._bar.refresh()
        elif cluster is not None:
            logger.info("Progress: %d pages (this worker), %s", pages, detail)
        else:
            logger.info("Progress: %d/%d %s, %s", done, total, unit, detail)

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn
        from rich.progress import Progress as RichProgress
        from rich.table import Column

        self._bar = RichProgress(
            SpinnerColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            BarColumn(bar_width=20),
            # The details take what is left and are cut, not wrapped, when too long.
            TextColumn(
                "{task.fields[detail]}",
                table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis"),
            ),
            console=Console(file=sys.stderr, force_terminal=True),
            expand=True,
            auto_refresh=False,
            redirect_stdout=False,  # stdout carries data (-O -), never the bar
            redirect_stderr=True,
        )
        self._bar_task = self._bar.add_task("crawl", total=None, detail="starting", unit="pages")
        original_stderr = sys.stderr
        self._bar.start()
        # Scrapy's log handler holds the real stderr: point it at rich's proxy,
        # which writes to the same stderr, above the bar. Log files are left alone.
        for handler in logging.getLogger().handlers:
            if type(handler) is logging.StreamHandler and handler.stream is original_stderr:
                self._restore_streams.append((handler, original_stderr))
                handler.setStream(sys.stderr)

    def _stop_bar(self) -> None:
        for handler, stream in self._restore_streams:
            handler.setStream(stream)
        self._restore_streams.clear()
        self._bar.stop()
        self._bar = None
