"""Adaptive per-site concurrency and pace: the controller, applied by the site pacer.

Every ``ADAPTIVE_CONCURRENCY_INTERVAL`` seconds each site's control law
(``booksscraper.politeness.law``) gets what the site saw (latency of each raw
response against its own baseline, 429/503 and Retry-After, its peak
in-flight) and the crawler process's CPU (psutil), and hands its decision to
the site pacer (``booksscraper/pacing/pacer.py``, ``SitePacer.set_adaptive``): how
many requests of the site may be in flight, and the pace (``1 / learned rate
cap``, shortened when late timers keep the rate below it). The pacer combines
that pace with Crawl-delay, ``POLITENESS_MAX_RPS`` and the 429/503 slow-down
(the largest wins), whatever proxy carries each request; this extension
writes no slot delay of its own. ``CONCURRENT_REQUESTS`` stays the global cap.
Off by default because it overrides ``CONCURRENT_REQUESTS_PER_DOMAIN`` and
``DOWNLOAD_DELAY`` per site: a user who set those expects them to hold
(scrapyd schedules, cluster runs); ``-s ADAPTIVE_CONCURRENCY_ENABLED=1`` opts
in. ``make experiment`` compares it with fixed settings and AutoThrottle
(benchmarks/results/politeness/).

Raw responses come from the ``response_downloaded`` signal, before any
middleware (a 429 is seen even when the retry middleware retries it).
Download exceptions (timeouts, resets) are not signals to the law. Not
compatible with AutoThrottle, which sets slot delays (BadConfig).

Settings (defaults in brackets):

- ``ADAPTIVE_CONCURRENCY_ENABLED`` [False]: the controller.
- ``ADAPTIVE_CONCURRENCY_START`` [2], ``ADAPTIVE_CONCURRENCY_MIN`` [1],
  ``ADAPTIVE_CONCURRENCY_MAX`` [64, and never above CONCURRENT_REQUESTS].
- ``ADAPTIVE_CONCURRENCY_INTERVAL`` [0.5]: seconds between control steps.
- ``ADAPTIVE_LATENCY_TOLERANCE`` [1.5, as gradient2]: latency up to this x baseline is
  no queueing; lower is gentler on the server, higher tolerates a noisy, busy client.
- ``ADAPTIVE_CPU_MAX`` [0.9]: CPU of the crawler process (fraction of one core)
  above which concurrency does not grow.
- ``ADAPTIVE_CONCURRENCY_TRACE`` [""]: file in ``OUTPUT_DIR`` for one JSON line
  per site and control step (time, concurrency, interval, latency, reason); "" = none.

Stats: ``adaptive/steps``, ``adaptive/step/<reason>``, ``adaptive/throttled``,
``adaptive/concurrency/max``, ``adaptive/concurrency/min`` (after the first step),
``adaptive/concurrency/final``, ``adaptive/rate_cap/min``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.utils.asyncio import create_looping_call
from scrapy.utils.httpobj import urlparse_cached

from booksscraper.config.errors import BadConfig
from booksscraper.middlewares.backoff import THROTTLE_STATUSES, parse_retry_after
from booksscraper.middlewares.checks import int_setting, number_setting
from booksscraper.output.jsonlines import JsonLinesWriter
from booksscraper.pacing.pacer import SitePacer
from booksscraper.politeness.law import ConcurrencyLaw, Decision, LawParams, TickSignals

logger = logging.getLogger(__name__)


@dataclass
class SiteState:
    law: ConcurrencyLaw
    signals: TickSignals
    window_start: float
    pace: float = 0.0  # the pace the controller last set


class AdaptiveConcurrency:
    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        if not s.getbool("ADAPTIVE_CONCURRENCY_ENABLED", False):
            raise NotConfigured
        self.crawler = crawler
        self.stats = crawler.stats
        self.sites: dict[str, SiteState] = {}
        self.params = self._law_params(crawler)
        self.interval = number_setting(s, "ADAPTIVE_CONCURRENCY_INTERVAL", 0.5, minimum=0.01)
        trace = s.get("ADAPTIVE_CONCURRENCY_TRACE") or ""
        self.trace_path = Path(s.get("OUTPUT_DIR") or "output", trace) if trace else None
        self.trace: JsonLinesWriter | None = None
        self.process = psutil.Process()
        self.loop: Any = None
        self._pacer: SitePacer | None = None
        self._last_cpu = 0.0
        self.started = time.monotonic()
        crawler.signals.connect(self.request_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(self.response_downloaded, signal=signals.response_downloaded)
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AdaptiveConcurrency:
        return cls(crawler)

    @staticmethod
    def _law_params(crawler: Crawler) -> LawParams:
        s = crawler.settings
        if s.getbool("AUTOTHROTTLE_ENABLED"):
            raise BadConfig(
                "ADAPTIVE_CONCURRENCY_ENABLED: AutoThrottle also sets slot delays; "
                "enable one of them"
            )
        minimum = int_setting(s, "ADAPTIVE_CONCURRENCY_MIN", 1, minimum=1)
        maximum = int_setting(s, "ADAPTIVE_CONCURRENCY_MAX", 64, minimum=1)
        start = int_setting(s, "ADAPTIVE_CONCURRENCY_START", 2, minimum=1)
        if not minimum <= start <= maximum:
            raise BadConfig(
                f"ADAPTIVE_CONCURRENCY_START: must be between ADAPTIVE_CONCURRENCY_MIN ({minimum})"
                f" and ADAPTIVE_CONCURRENCY_MAX ({maximum}), got {start}"
            )
        total = s.getint("CONCURRENT_REQUESTS")
        if 0 < total < maximum:
            maximum = max(total, minimum)  # more per slot could never be used
        return LawParams(
            start=start,
            minimum=minimum,
            maximum=maximum,
            tolerance=number_setting(s, "ADAPTIVE_LATENCY_TOLERANCE", 1.5, minimum=1.0),
            cpu_max=number_setting(s, "ADAPTIVE_CPU_MAX", 0.9, minimum=0.01),
        )

    # -- the controller -----------------------------------------------------------------------
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

    def _state(self, site: str) -> SiteState:
        state = self.sites.get(site)
        if state is None:
            assert self.params is not None
            law = ConcurrencyLaw(self.params)
            state = self.sites[site] = SiteState(law, TickSignals(duration=0.0), time.monotonic())
            self.pacer.set_adaptive(site, law.concurrency, 0.0)
        return state

    def request_scheduled(self, request: Request) -> None:
        """A new site starts at ADAPTIVE_CONCURRENCY_START before its first request leaves."""
        self._state(urlparse_cached(request).hostname or "")

    def response_downloaded(self, response: Response, request: Request) -> None:
        site = urlparse_cached(request).hostname or ""
        state = self._state(site)
        sig = state.signals
        # This response is still counted in flight by the pacer.
        sig.peak_in_flight = max(sig.peak_in_flight, self.pacer.in_flight(site))
        sig.paced = sig.paced or self.pacer.is_pacing(site)
        if response.status in THROTTLE_STATUSES:
            sig.throttled += 1
            self.stats.inc_value("adaptive/throttled")
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None:
                sig.retry_after = max(sig.retry_after or 0.0, retry_after)
            # Act now, not at the next step: requests keep leaving at the old pace meanwhile.
            self._step_site(site, state, time.monotonic(), self._last_cpu)
            return
        latency = request.meta.get("download_latency")
        if latency is not None:
            sig.latencies.append(latency)

    def step(self) -> None:
        now = time.monotonic()
        self._last_cpu = cpu = self.process.cpu_percent(None) / 100.0
        for site, state in self.sites.items():
            self._step_site(site, state, now, cpu)

    def _step_site(self, site: str, state: SiteState, now: float, cpu: float) -> None:
        sig = state.signals
        sig.duration = now - state.window_start
        sig.cpu = cpu
        if not state.law.ready(sig):
            return  # keep collecting into the same window
        decision = state.law.update(sig, now)
        state.signals = TickSignals(duration=0.0)
        state.window_start = now
        state.pace = decision.pace
        self.pacer.set_adaptive(site, decision.concurrency, decision.pace)
        self._record(site, state, decision, now, sig)

    def _record(
        self, site: str, state: SiteState, d: Decision, now: float, sig: TickSignals
    ) -> None:
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
            "pace": round(state.pace, 4),
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
