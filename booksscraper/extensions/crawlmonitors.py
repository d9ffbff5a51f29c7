"""Monitors at the end of every crawl and while it runs; alerts when one fails.

At the end (``engine_stopped``, before ``CrawlSummary`` writes stats.json) the
close monitors of ``booksscraper.monitoring.monitors`` judge the final stats. Every
``MONITOR_CHECK_INTERVAL`` seconds the periodic ones look at the crawl as it
runs:

- ``stall``: no new item for ``MONITOR_STALL_SECONDS``;
- ``error_rate``: responses of 5xx plus download errors over the responses and
  errors of the window, above ``MONITOR_MAX_ERROR_RATE``;
- ``throttle_rate``: 429 and 503 responses likewise, above ``MONITOR_MAX_THROTTLE_RATE``;
- the circuit breaker's reject rate (``booksscraper.monitoring.breaker``): books
  rejected over books settled in the window, above ``MONITOR_BREAKER_REJECT_RATE``,
  stops the crawl (``site_changed``).

The window adapts to the rate: it reaches back as many intervals as it takes to
hold ``MONITOR_RATE_MIN_RESPONSES`` answers (books, for the reject rate), up to
``WINDOW_INTERVALS``: a slow storm (a few answers in each interval) is judged too.
A periodic monitor fires once per crawl: a WARNING line and an alert
right away (a stalled crawl may never end), and it counts as a failed monitor at
the end. Results: one WARNING line per failed monitor, ``monitors/results`` and
``monitors/failed`` in stats.json, the report's Monitors section, one alert
(``booksscraper.monitoring.alerts``) and exit status 3 (``commands/crawl.py``).

Settings (defaults in docs/settings.md):

- ``MONITOR_CHECK_INTERVAL``: seconds between periodic checks.
- ``MONITOR_STALL_SECONDS``: no new item for this long fires ``stall``; 0 off.
- ``MONITOR_MAX_ERROR_RATE``: share of error responses in an interval.
- ``MONITOR_MAX_THROTTLE_RATE``: share of 429/503 responses in an interval.
- ``MONITOR_RATE_MIN_RESPONSES``: fewer in an interval: not judged.

The close monitors' settings are in ``booksscraper/monitoring/monitors.py``; the alerts'
in ``booksscraper/monitoring/alerts.py``.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import create_looping_call
from twisted.internet.threads import deferToThread

from booksscraper.config.errors import BadConfig
from booksscraper.config.readers import boolean, number, whole_number
from booksscraper.ledger.book_ledger import Ledger
from booksscraper.ledger.figures import figures, settled
from booksscraper.monitoring import monitors
from booksscraper.monitoring.alerts import Alerts, alert_payload, safe_json
from booksscraper.monitoring.breaker import BREAKER, trip
from booksscraper.output.errors import stopping_on_output_error
from booksscraper.output.folder import output_path

logger = logging.getLogger(__name__)

PERIODIC = "monitors/periodic/"  # + name: intervals on which it failed
THROTTLE_STATUSES = (429, 503)
WINDOW_INTERVALS = 30  # the longest window, in check intervals


def window(history: deque[tuple[float, dict[str, int]]], key: str,
           minimum: int) -> tuple[float, dict[str, int]] | None:
    """The newest earlier reading with ``minimum`` of ``key`` since it: (span, deltas)."""
    now, latest = history[-1]
    for then, earlier in reversed(list(history)[:-1]):
        if latest[key] - earlier[key] >= minimum:
            return now - then, {k: latest[k] - earlier[k] for k in latest}
    return None


def interval_counts(stats: dict[str, Any]) -> dict[str, int]:
    """Cumulative answers, errors and throttles so far (robots.txt included: it is traffic)."""
    errors = int(stats.get("downloader/exception_count", 0))
    throttles = 0
    for key, value in stats.items():
        if key.startswith("downloader/response_status_count/"):
            status = int(key.rsplit("/", 1)[1])
            errors += value if status >= 500 else 0
            throttles += value if status in THROTTLE_STATUSES else 0
    answers = int(stats.get("downloader/response_count", 0)) + \
        int(stats.get("downloader/exception_count", 0))
    numbers = figures(stats)
    return {"answers": answers, "errors": errors, "throttles": throttles,
            "settled": settled(numbers), "rejected": numbers["rejected"]}


class CrawlMonitors:
    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        # Not for a look at one page (scrapy parse, check...: OUTPUT_ENABLED off).
        if not (boolean(settings, "MONITORS_ENABLED") and boolean(settings, "OUTPUT_ENABLED")):
            raise NotConfigured
        self.crawler = crawler
        self.stats = crawler.stats
        self.limits = monitors.Thresholds.from_settings(settings)
        self.interval = number(settings, "MONITOR_CHECK_INTERVAL")
        if self.interval == 0:
            raise BadConfig("MONITOR_CHECK_INTERVAL: 0 must be positive")
        self.stall_seconds = number(settings, "MONITOR_STALL_SECONDS")
        self.max_error_rate = monitors.share(settings, "MONITOR_MAX_ERROR_RATE")
        self.max_throttle_rate = monitors.share(settings, "MONITOR_MAX_THROTTLE_RATE")
        self.min_responses = whole_number(settings, "MONITOR_RATE_MIN_RESPONSES")
        self.breaker_rate = monitors.share(settings, "MONITOR_BREAKER_REJECT_RATE")
        self.alerts = Alerts(settings)
        self.stats_path = output_path(settings, "STATS_FILE")
        # Linked from an alert only when the crawl writes it (a report costs a second or two of
        # charts: `make report` writes it afterwards).
        self.report_path = (self.stats_path.parent / "report.md"
                            if boolean(settings, "REPORT_ON_CLOSE") else None)
        self.fired: dict[str, dict[str, Any]] = {}  # periodic monitors that failed
        self._task: Any = None
        self._last_item = time.monotonic()
        self._history: deque[tuple[float, dict[str, int]]] = deque(maxlen=WINDOW_INTERVALS + 1)
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.engine_stopped, signal=signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlMonitors:
        return cls(crawler)

    def spider_opened(self) -> None:
        self._last_item = time.monotonic()
        self._history.append((self._last_item, interval_counts(self.stats.get_stats())))
        self._task = create_looping_call(self.tick)
        self._task.start(self.interval, now=False)

    def item_scraped(self) -> None:
        self._last_item = time.monotonic()

    def spider_closed(self) -> None:
        if self._task is not None and self._task.running:
            self._task.stop()

    # Periodic monitors.

    def tick(self) -> None:
        for check in self.periodic_checks():
            if check.passed is False:
                self.stats.inc_value(PERIODIC + check.name)
                if check.name not in self.fired:
                    self.fired[check.name] = check.as_dict()
                    logger.warning("Monitor failed: %s: %s", check.name, check.message)
                    self._alert("periodic", [check.as_dict()], in_thread=True)

    def periodic_checks(self) -> list[monitors.Check]:
        checks = []
        if self.stall_seconds:
            idle = time.monotonic() - self._last_item
            checks.append(monitors.Check(
                "stall", idle <= self.stall_seconds, round(idle, 1), self.stall_seconds,
                f"no new item for {idle:.0f} s (maximum {self.stall_seconds:g} s)"))
        self._history.append((time.monotonic(), interval_counts(self.stats.get_stats())))
        answered = window(self._history, "answers", max(self.min_responses, 1))
        if answered is not None:
            span, delta = answered
            for name, key, limit in (("error_rate", "errors", self.max_error_rate),
                                     ("throttle_rate", "throttles", self.max_throttle_rate)):
                rate = delta[key] / delta["answers"]
                checks.append(monitors.Check(
                    name, rate <= limit, round(rate, 4), limit,
                    f"{delta[key]} {key} in {delta['answers']} answers in "
                    f"{span:.1f} s ({100 * rate:.1f}%, maximum {100 * limit:.1f}%)"))
        self._reject_rate()
        return checks

    def _reject_rate(self) -> None:
        """The circuit breaker's periodic trigger: most books of a window rejected."""
        books = window(self._history, "settled", max(self.min_responses, 1))
        if books is None:
            return
        span, delta = books
        rate = delta["rejected"] / delta["settled"]
        ledger = Ledger.of(self.crawler)
        if rate <= self.breaker_rate or ledger is None:
            return
        field, url = ledger.commonest_reject()
        trip(self.crawler, f"{delta['rejected']} of {delta['settled']} books rejected in "
             f"{span:.0f} s ({100 * rate:.0f}%, most on {field}, e.g. {url}; maximum "
             f"{100 * self.breaker_rate:.0f}%): has the site changed its layout?",
             round(rate, 4), self.breaker_rate)

    # Close monitors.

    def engine_stopped(self) -> None:
        stats = self.stats.get_stats()
        checks = [c.as_dict() for c in monitors.close_checks(stats, self.limits)]
        if stats.get(BREAKER):
            checks.insert(0, {**stats[BREAKER], "periodic": True})  # logged when it tripped
        checks += [{**fired, "periodic": True} for fired in self.fired.values()]
        failed = [c for c in checks if c["passed"] is False]
        self.stats.set_value(monitors.RESULTS, safe_json(checks))
        for check in failed:
            if check.get("periodic"):
                continue  # logged when it fired
            logger.warning("Monitor failed: %s: %s", check["name"], check["message"])
        skipped = sum(1 for c in checks if c["passed"] is None)
        logger.info("Monitors: %d passed, %d failed, %d skipped",
                    len(checks) - len(failed) - skipped, len(failed), skipped)
        if failed:
            self.stats.set_value(monitors.FAILED, [c["name"] for c in failed])
            self._alert("close", failed, in_thread=False)
        with stopping_on_output_error(self.crawler):
            self.alerts.close()

    def _alert(self, kind: str, failed: list[dict[str, Any]], *, in_thread: bool) -> None:
        spider = self.crawler.spider
        stats = self.stats.get_stats()
        crawl = {
            "spider": getattr(spider, "name", None),
            "job": getattr(spider, "_job", None),  # scrapyd's job id
            "start_url": getattr(spider, "start_url", None),
            "finish_reason": stats.get("finish_reason"),
            "items": stats.get("item_scraped_count", 0),
            "output_dir": str(self.stats_path.parent.resolve()),
        }
        files = {"stats": self.stats_path, "alerts": self.alerts.path}
        if self.report_path is not None:
            files["report"] = self.report_path
        alert = alert_payload(kind, crawl, safe_json(failed), files)
        with stopping_on_output_error(self.crawler):
            self.alerts.write(alert)
        if in_thread:
            deferToThread(self.alerts.post, alert)  # post() never raises
        else:
            self.alerts.post(alert)  # the crawl is over: at most ALERT_WEBHOOK_TIMEOUT

