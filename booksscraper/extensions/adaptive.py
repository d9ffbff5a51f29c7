"""Adaptive per-slot concurrency under a politeness ceiling.

Two jobs, one extension (both act on the same download slots):

**Politeness ceiling** (on by default). Scrapy parses robots.txt
``Crawl-delay`` (protego) but never applies it; this extension makes it the
minimum delay of the site's download slot, and ``POLITENESS_MAX_RPS`` a
minimum delay of ``1 / max_rps`` (Scrapy's delay spaces request *starts*, so
no slot starts more than ``1/delay`` requests a second, whatever its
concurrency). The floor is enforced each time a request enters a slot, so
nothing (AutoThrottle, the retry middleware's recovery) can take a slot
below it. A floored (or paced, below) slot gets no delay jitter: Scrapy's
±jitter would undercut the floor for half the requests.

**Adaptive concurrency** (``ADAPTIVE_CONCURRENCY_ENABLED``, off by default).
Every ``ADAPTIVE_CONCURRENCY_INTERVAL`` seconds each slot's control law
(``booksscraper.politeness.law``) gets what the slot saw (latency of each raw
response against its own baseline, 429/503 and Retry-After, its peak
in-flight) and the crawler process's CPU (psutil), and sets the slot's
``concurrency`` and its delay (``max(floor, pace)``, the pace being
``1 / learned rate cap``, shortened when late timers keep the rate below it).
``CONCURRENT_REQUESTS`` stays the global cap. Off by default because it
overrides ``CONCURRENT_REQUESTS_PER_DOMAIN`` and ``DOWNLOAD_DELAY`` per slot:
a user who set those expects them to hold (scrapyd schedules, cluster runs);
``-s ADAPTIVE_CONCURRENCY_ENABLED=1`` opts in. ``make experiment`` compares
it with fixed settings and AutoThrottle (benchmarks/results/politeness/).

Cooperation with ``BackoffRetryMiddleware`` (booksscraper/middlewares/retry.py):
on a 429/503 it doubles the slot's delay for a moment and brings it back to
the delay the slot had before (its ``normal_delay[slot]``). The controller
owns that base delay: when it changes it while a retry slow-down is on top,
it moves the middleware's ``normal_delay`` entry with it, so the slow-down
stays on top and decays to the controller's delay instead of a stale one. It
never lowers a slot's delay below the retry's slow-down.

Raw responses come from the ``response_downloaded`` signal, before any
middleware (a 429 is seen even when the retry middleware retries it).
Download exceptions (timeouts, resets) are not signals to the law. Not
compatible with AutoThrottle, which also sets slot delays (BadConfig).

Settings (defaults in brackets):

- ``POLITENESS_OBEY_CRAWL_DELAY`` [True]: apply robots.txt ``Crawl-delay``
  (only with ``ROBOTSTXT_OBEY``; for ``ROBOTSTXT_USER_AGENT`` or ``USER_AGENT``).
- ``POLITENESS_CRAWL_DELAY_MAX`` [60]: longest Crawl-delay applied, seconds.
- ``POLITENESS_MAX_RPS`` [0 = no cap]: requests per second per slot, at most.
- ``ADAPTIVE_CONCURRENCY_ENABLED`` [False]: the controller.
- ``ADAPTIVE_CONCURRENCY_START`` [2], ``ADAPTIVE_CONCURRENCY_MIN`` [1],
  ``ADAPTIVE_CONCURRENCY_MAX`` [64, and never above CONCURRENT_REQUESTS].
- ``ADAPTIVE_CONCURRENCY_INTERVAL`` [0.5]: seconds between control steps.
- ``ADAPTIVE_LATENCY_TOLERANCE`` [1.5, as gradient2]: latency up to this x baseline is
  no queueing; lower is gentler on the server, higher tolerates a noisy, busy client.
- ``ADAPTIVE_CPU_MAX`` [0.9]: CPU of the crawler process (fraction of one core)
  above which concurrency does not grow.
- ``ADAPTIVE_CONCURRENCY_TRACE`` [""]: file in ``OUTPUT_DIR`` for one JSON line
  per slot and control step (time, concurrency, delay, latency, reason); "" = none.

Stats: ``politeness/crawl_delay`` (largest applied, s), ``politeness/floored_slots``,
``adaptive/steps``, ``adaptive/step/<reason>``, ``adaptive/throttled``,
``adaptive/concurrency/max``, ``adaptive/concurrency/min`` (after the first step),
``adaptive/concurrency/final``, ``adaptive/rate_cap/min``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from scrapy import Request, signals
from scrapy.core.downloader import Slot
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.utils.asyncio import create_looping_call
from scrapy.utils.httpobj import urlparse_cached

from booksscraper.errors import BadConfig
from booksscraper.middlewares.backoff import parse_retry_after
from booksscraper.middlewares.checks import int_setting, number_setting
from booksscraper.output import JsonLinesWriter
from booksscraper.politeness.law import ConcurrencyLaw, Decision, LawParams, TickSignals

logger = logging.getLogger(__name__)

THROTTLE_STATUSES = {429, 503}


@dataclass
class SlotState:
    law: ConcurrencyLaw
    signals: TickSignals
    window_start: float
    base_delay: float = 0.0  # the delay the controller last set (floor and pace)
    hosts: set[str] = field(default_factory=set)


class AdaptiveConcurrency:
    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.enabled = s.getbool("ADAPTIVE_CONCURRENCY_ENABLED", False)
        self.obey_crawl_delay = s.getbool("POLITENESS_OBEY_CRAWL_DELAY", True) and s.getbool(
            "ROBOTSTXT_OBEY"
        )
        self.crawl_delay_max = number_setting(s, "POLITENESS_CRAWL_DELAY_MAX", 60.0)
        max_rps = number_setting(s, "POLITENESS_MAX_RPS", 0.0)
        if not (self.enabled or self.obey_crawl_delay or max_rps):
            raise NotConfigured
        # A user's DOWNLOAD_DELAY is a floor too.
        self.global_floor = max(s.getfloat("DOWNLOAD_DELAY"), 1.0 / max_rps if max_rps else 0.0)
        self.robots_agent = s.get("ROBOTSTXT_USER_AGENT") or s.get("USER_AGENT") or "*"
        self.crawl_delays: dict[str, float] = {}  # hostname -> Crawl-delay
        self.slot_floor: dict[str, float] = {}
        self.slots: dict[str, SlotState] = {}
        self.params = self._law_params(crawler) if self.enabled else None
        self.total_cap = crawler.settings.getint("CONCURRENT_REQUESTS")
        self.interval = number_setting(s, "ADAPTIVE_CONCURRENCY_INTERVAL", 0.5, minimum=0.01)
        trace = s.get("ADAPTIVE_CONCURRENCY_TRACE") or ""
        self.trace_path = Path(s.get("OUTPUT_DIR") or "output", trace) if trace else None
        self.trace: JsonLinesWriter | None = None
        self.process = psutil.Process()
        self.loop: Any = None
        self._last_cpu = 0.0
        self.started = time.monotonic()

        crawler.signals.connect(self.robots_parsed, signal=signals.robots_parsed)
        crawler.signals.connect(
            self.request_reached_downloader, signal=signals.request_reached_downloader
        )
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        if self.enabled:
            crawler.signals.connect(self.response_downloaded, signal=signals.response_downloaded)
            crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

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

    # -- politeness floor ---------------------------------------------------------------------
    def robots_parsed(self, robotparser: Any, request: Request) -> None:
        if not self.obey_crawl_delay:
            return
        delay = robotparser.crawl_delay(self.robots_agent)
        if not delay:
            return
        host = urlparse_cached(request).hostname or ""
        applied = min(float(delay), self.crawl_delay_max)
        if applied < delay:
            logger.warning(
                "robots.txt of %s asks for Crawl-delay %gs; applying %gs "
                "(POLITENESS_CRAWL_DELAY_MAX)", host, delay, applied,
            )
        self.crawl_delays[host] = applied
        self.stats.max_value("politeness/crawl_delay", applied)
        logger.info("Crawl-delay of %s: %gs between requests", host, applied)

    def request_reached_downloader(self, request: Request) -> None:
        """Runs after the slot is chosen and before the slot's queue is processed."""
        engine = self.crawler.engine
        key = request.meta.get("download_slot")
        if engine is None or key is None:
            return
        slot = engine.downloader.slots.get(key)
        if slot is None:
            return
        host = urlparse_cached(request).hostname or ""
        known = self.slot_floor.get(key, 0.0)
        floor = max(self.global_floor, self.crawl_delays.get(host, 0.0), known)
        if floor > known:
            self.slot_floor[key] = floor
            self.stats.inc_value("politeness/floored_slots")
        state = self.slots.get(key)
        if self.enabled and state is None:
            self._new_slot(key, slot)
        elif state is not None:
            # Scrapy drops slots idle for a minute; a new one starts from the settings.
            slot.concurrency = state.law.concurrency
            floor = max(floor, state.base_delay)
        if floor:
            slot.jitter = 0.0
            if slot.delay < floor:
                slot.delay = floor

    # -- the controller -----------------------------------------------------------------------
    def spider_opened(self) -> None:
        if self.trace_path is not None:
            self.trace_path.parent.mkdir(parents=True, exist_ok=True)
            self.trace = JsonLinesWriter(self.trace_path, append=False)
        self.process.cpu_percent(None)  # the first call only starts the measurement
        self.started = time.monotonic()
        self.loop = create_looping_call(self.step)
        self.loop.start(self.interval, now=False)

    def _new_slot(self, key: str, slot: Slot) -> None:
        assert self.params is not None
        law = ConcurrencyLaw(self.params)
        now = time.monotonic()
        self.slots[key] = SlotState(law, TickSignals(duration=0.0), now, base_delay=slot.delay)
        slot.concurrency = law.concurrency
        self._cap_total()

    def response_downloaded(self, response: Response, request: Request) -> None:
        key = request.meta.get("download_slot")
        state = self.slots.get(key) if key is not None else None
        if state is None:
            return
        sig = state.signals
        engine = self.crawler.engine
        slot = engine.downloader.slots.get(key) if engine is not None else None
        if slot is not None:  # this response is still counted as transferring
            sig.peak_in_flight = max(sig.peak_in_flight, len(slot.transferring))
            sig.paced = sig.paced or bool(slot.queue and slot.delay)
        if response.status in THROTTLE_STATUSES:
            sig.throttled += 1
            self.stats.inc_value("adaptive/throttled")
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None:
                sig.retry_after = max(sig.retry_after or 0.0, retry_after)
            # Act now, not at the next step: requests keep leaving at the old pace meanwhile.
            if slot is not None:
                self._step_slot(key, slot, state, time.monotonic(), self._last_cpu)
                self._cap_total()
            return
        latency = request.meta.get("download_latency")
        if latency is not None:
            sig.latencies.append(latency)

    def step(self) -> None:
        engine = self.crawler.engine
        if engine is None:
            return
        now = time.monotonic()
        self._last_cpu = cpu = self.process.cpu_percent(None) / 100.0
        for key, state in self.slots.items():
            slot = engine.downloader.slots.get(key)
            if slot is None:
                continue  # collected by Scrapy's slot GC; re-created on the next request
            self._step_slot(key, slot, state, now, cpu)
        self._cap_total()

    def _step_slot(self, key: str, slot: Slot, state: SlotState, now: float, cpu: float) -> None:
        sig = state.signals
        sig.duration = now - state.window_start
        sig.cpu = cpu
        if not state.law.ready(sig):
            return  # keep collecting into the same window
        decision = state.law.update(sig, now)
        state.signals = TickSignals(duration=0.0)
        state.window_start = now
        self._apply(key, slot, state, decision)
        self._record(key, slot, state, decision, now, sig)

    def _apply(self, key: str, slot: Slot, state: SlotState, decision: Decision) -> None:
        slot.concurrency = decision.concurrency
        base = max(self.slot_floor.get(key, 0.0), decision.pace)
        retry_normal = self._retry_normal_delays()
        if retry_normal is not None and key in retry_normal:
            # A retry slow-down is on top: keep it, and make it decay to our base.
            retry_normal[key] = base
            slot.delay = max(slot.delay, base)
        else:
            slot.delay = base
        state.base_delay = base

    def _cap_total(self) -> None:
        """Hold the downloader's global cap to the sum of the controlled slots' concurrency.

        Scrapy 2.19 under asyncio does not enforce ``Slot.concurrency`` on a burst:
        ``Downloader._process_queue`` hands the whole queue out before the scheduled
        downloads mark themselves ``transferring`` (with CONCURRENT_REQUESTS=64 and
        CONCURRENT_REQUESTS_PER_DOMAIN=4 a server sees 60 at once). The global cap
        (``needs_backout``, on ``downloader.active``) is enforced, so it carries the limit.
        """
        engine = self.crawler.engine
        if engine is None:
            return
        slots = engine.downloader.slots
        wanted = sum(slots[k].concurrency for k in self.slots if k in slots)
        if wanted:
            cap = min(wanted, self.total_cap) if self.total_cap > 0 else wanted
            engine.downloader.total_concurrency = cap

    def _retry_normal_delays(self) -> dict[str, float] | None:
        """The retry middleware's ``normal_delay`` (slot -> delay it restores), if it runs."""
        engine = self.crawler.engine
        if engine is None:
            return None
        for mw in engine.downloader.middleware.middlewares:
            normal = getattr(mw, "normal_delay", None)
            if isinstance(normal, dict):
                return normal
        return None

    def _record(
        self, key: str, slot: Slot, state: SlotState, d: Decision, now: float, sig: TickSignals
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
            "slot": key,
            "limit": round(d.limit, 3),
            "concurrency": d.concurrency,
            "delay": round(slot.delay, 4),
            "base_delay": round(state.base_delay, 4),
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
