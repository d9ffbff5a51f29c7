"""The adaptive controller as a Scrapy extension: what each site saw in, decisions to the pacer.

The controller itself (``booksscraper.pacing.controller``, with its law in
``booksscraper.pacing.law``; both pure) decides each site's concurrency and
pace. This extension feeds it and applies what it decides: every
``ADAPTIVE_CONCURRENCY_INTERVAL`` seconds it steps the controller with the crawler
process's CPU (psutil); each raw response (the ``response_downloaded`` signal,
before any middleware: a 429 is seen even when the retry middleware retries it)
goes to the controller with its latency, Retry-After and the site's in-flight count
from the site pacer (``booksscraper/pacing/pacer.py``). Each decision goes to
``SitePacer.set_adaptive``: how many requests of the site may be in flight, and the
pace (``1 / learned rate cap``, shortened when late timers keep the rate below it).
The pacer combines that pace with Crawl-delay, ``POLITENESS_MAX_RPS`` and the
429/503 slow-down (the largest wins), whatever proxy carries each request; this
extension writes no slot delay of its own. ``CONCURRENT_REQUESTS`` stays the global
cap. Off by default because it overrides ``CONCURRENT_REQUESTS_PER_DOMAIN`` and
``DOWNLOAD_DELAY`` per site: a user who set those expects them to hold (scrapyd
schedules, cluster runs); ``-s ADAPTIVE_CONCURRENCY_ENABLED=1`` opts in. ``make
experiment`` compares it with fixed settings and AutoThrottle
(benchmarks/results/politeness/).

Download exceptions (timeouts, resets) are not signals to the law. Not
compatible with AutoThrottle, which sets slot delays (BadConfig).

Settings (defaults in docs/settings.md):

- ``ADAPTIVE_CONCURRENCY_ENABLED``: the controller.
- ``ADAPTIVE_CONCURRENCY_START``, ``ADAPTIVE_CONCURRENCY_MIN``,
  ``ADAPTIVE_CONCURRENCY_MAX`` (never above CONCURRENT_REQUESTS): per-site concurrency.
- ``ADAPTIVE_CONCURRENCY_INTERVAL``: seconds between control steps.
- ``ADAPTIVE_LATENCY_TOLERANCE``: latency up to this x baseline is no queueing (as
  gradient2); lower is gentler on the server, higher tolerates a noisy, busy client.
- ``ADAPTIVE_CPU_MAX``: CPU of the crawler process (fraction of one core) above which
  concurrency does not grow.
- ``ADAPTIVE_CONCURRENCY_TRACE``: file in ``OUTPUT_DIR`` for one JSON line per site and
  control step (time, concurrency, interval, latency, reason); empty: none.

Stats: ``adaptive/steps``, ``adaptive/step/<reason>``, ``adaptive/throttled``,
``adaptive/concurrency/max``, ``adaptive/concurrency/min`` (after the first step),
``adaptive/concurrency/final``, ``adaptive/rate_cap/min``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.utils.asyncio import create_looping_call
from scrapy.utils.httpobj import urlparse_cached

from booksscraper.config.errors import BadConfig
from booksscraper.config.readers import boolean, number, text, whole_number
from booksscraper.middlewares.backoff import THROTTLE_STATUSES, parse_retry_after
from booksscraper.output.folder import output_folder
from booksscraper.output.jsonlines import JsonLinesWriter
from booksscraper.pacing.pacer import SitePacer

if TYPE_CHECKING:  # imported when the controller is on: a crawl without it loads neither
    from booksscraper.pacing.controller import Step
    from booksscraper.pacing.law import LawParams

logger = logging.getLogger(__name__)


class AdaptiveConcurrency:
    def __init__(
        self, crawler: Crawler, params: LawParams, interval: float, trace_path: Path | None
    ) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        from booksscraper.pacing.controller import AdaptiveController

        self.controller = AdaptiveController(params)
        self.interval = interval
        self.trace_path = trace_path
        self.trace: JsonLinesWriter | None = None
        self.process = psutil.Process()
        self.loop: Any = None
        self._pacer: SitePacer | None = None
        self.started = time.monotonic()
        crawler.signals.connect(self.request_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(self.response_downloaded, signal=signals.response_downloaded)
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AdaptiveConcurrency:
        s = crawler.settings
        if not boolean(s, "ADAPTIVE_CONCURRENCY_ENABLED"):
            raise NotConfigured
        if s.getbool("AUTOTHROTTLE_ENABLED"):
            raise BadConfig(
                "ADAPTIVE_CONCURRENCY_ENABLED: AutoThrottle also sets slot delays; "
                "enable one of them"
            )
        minimum = whole_number(s, "ADAPTIVE_CONCURRENCY_MIN", minimum=1)
        maximum = whole_number(s, "ADAPTIVE_CONCURRENCY_MAX", minimum=1)
        start = whole_number(s, "ADAPTIVE_CONCURRENCY_START", minimum=1)
        if not minimum <= start <= maximum:
            raise BadConfig(
                f"ADAPTIVE_CONCURRENCY_START: must be between ADAPTIVE_CONCURRENCY_MIN ({minimum})"
                f" and ADAPTIVE_CONCURRENCY_MAX ({maximum}), got {start}"
            )
        from booksscraper.pacing.law import LawParams

        total = s.getint("CONCURRENT_REQUESTS")
        if 0 < total < maximum:
            maximum = max(total, minimum)  # more per slot could never be used
        params = LawParams(
            start=start,
            minimum=minimum,
            maximum=maximum,
            tolerance=number(s, "ADAPTIVE_LATENCY_TOLERANCE", minimum=1.0),
            cpu_max=number(s, "ADAPTIVE_CPU_MAX", minimum=0.01),
            retry_after_max=number(s, "RETRY_AFTER_MAX"),
        )
        interval = number(s, "ADAPTIVE_CONCURRENCY_INTERVAL", minimum=0.01)
        trace = text(s, "ADAPTIVE_CONCURRENCY_TRACE")
        trace_path = output_folder(s) / trace if trace else None
        return cls(crawler, params, interval, trace_path)

    def spider_opened(self) -> None:
        if self.trace_path is not None:
            self.trace_path.parent.mkdir(parents=True, exist_ok=True)
            self.trace = JsonLinesWriter(self.trace_path, append=False)
        self.process.cpu_percent(None)  # the first call only starts the measurement
        self.started = time.monotonic()
        self.loop = create_looping_call(self.step)
        self.loop.start(self.interval, now=False)

    @property
    def pacer(self) -> SitePacer:
        if self._pacer is None:
            self._pacer = self.crawler.get_downloader_middleware(SitePacer)
            if self._pacer is None:
                raise RuntimeError("ADAPTIVE_CONCURRENCY_ENABLED needs the site pacer")
        return self._pacer

    def _known(self, site: str) -> None:
        """A new site starts at ADAPTIVE_CONCURRENCY_START."""
        start = self.controller.add(site, time.monotonic())
        if start is not None:
            self.pacer.set_adaptive(site, start, 0.0)

    def request_scheduled(self, request: Request) -> None:
        """A new site starts at ADAPTIVE_CONCURRENCY_START before its first request leaves."""
        self._known(urlparse_cached(request).hostname or "")

    def response_downloaded(self, response: Response, request: Request) -> None:
        site = urlparse_cached(request).hostname or ""
        self._known(site)
        throttled = response.status in THROTTLE_STATUSES
        retry_after = None
        if throttled:
            self.stats.inc_value("adaptive/throttled")
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
        now = time.monotonic()
        step = self.controller.response(
            site,
            now,
            throttled=throttled,
            retry_after=retry_after,
            latency=request.meta.get("download_latency"),
            in_flight=self.pacer.in_flight(site),  # this response still counts in flight
            paced=self.pacer.is_pacing(site),
        )
        if step is not None:  # a throttling answer: acted on at once, not at the next step
            self._apply(step, now)

    def step(self) -> None:
        now = time.monotonic()
        cpu = self.process.cpu_percent(None) / 100.0
        for step in self.controller.step(now, cpu):
            self._apply(step, now)

    def _apply(self, step: Step, now: float) -> None:
        d, sig, site = step.decision, step.signals, step.site
        self.pacer.set_adaptive(site, d.concurrency, d.pace)
        self.stats.inc_value("adaptive/steps")
        self.stats.inc_value(f"adaptive/step/{d.reason}")
        self.stats.max_value("adaptive/concurrency/max", d.concurrency)
        self.stats.min_value("adaptive/concurrency/min", d.concurrency)
        self.stats.set_value("adaptive/concurrency/final", d.concurrency)
        if d.rate_cap is not None:
            self.stats.min_value("adaptive/rate_cap/min", round(d.rate_cap, 3))
        if self.trace is None:
            return
        self.trace.write({
            "t": round(now - self.started, 3),
            "wall": round(time.time(), 3),
            "site": site,
            "limit": round(d.limit, 3),
            "concurrency": d.concurrency,
            "interval": round(self.pacer.interval(site), 4),
            "pace": round(step.pace, 4),
            "rate_cap": None if d.rate_cap is None else round(d.rate_cap, 3),
            "pace_scale": round(d.pace_scale, 3),
            "p50_ms": None if d.p50 is None else round(d.p50 * 1000, 1),
            "baseline_ms": None if d.baseline is None else round(d.baseline * 1000, 1),
            "responses": sig.responses,
            "throttled": sig.throttled,
            "peak_in_flight": sig.peak_in_flight,
            "cpu": round(sig.cpu or 0.0, 3),
            "reason": d.reason,
        })

    def spider_closed(self) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        if self.trace is not None:
            self.trace.close()
