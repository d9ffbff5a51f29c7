"""The control law of the adaptive concurrency controller: pure, no Scrapy, unit-tested alone.

One ``ConcurrencyLaw`` per download slot. Every tick it gets what the slot saw
since the last tick (``TickSignals``) and returns a ``Decision``: how many
requests may be in flight (``concurrency``) and at most how many may start per
second (``rate_cap``, None = no cap). Two knobs, because a server can push
back in two ways:

- **Queueing** (latency rises above its no-load baseline): a gradient law
  like Netflix's gradient2 / TCP Vegas. ``gradient = clamp(tolerance *
  baseline / p50, 0.5, 1)``. Below 1 (the server queues our requests) the
  limit is multiplied by it at once, at most once per ``decrease_interval``;
  at 1 it grows by ``smoothing * sqrt(limit)`` a tick. So the limit settles
  where latency is about ``tolerance`` x baseline: a server with K workers
  sees about ``tolerance`` x K requests, a short queue that keeps its workers
  busy. Until the first sign of queueing the limit doubles each tick, like
  TCP slow start.
- **Throttling** (429/503): multiplicative decrease of the limit (x
  ``backoff``), and a rate cap learned from the rate the server accepted just
  before (x ``rate_margin``): a token-bucket limit is about requests per
  second, which concurrency alone controls only coarsely. The cap is probed
  upward by ``probe`` a tick while nothing is throttled, ten times slower
  once it is back at ``rate_margin`` x the rate throttled last time (so 429s
  stay rare). The first 429 sets the cap at once; further cuts of the limit
  and the cap wait ``decrease_interval``. A Retry-After holds
  all growth for that long (up to ``RETRY_AFTER_MAX``, the retries' cap too).
  Decreases happen at most once per ``decrease_interval`` seconds (for latency
  and for throttling apart): the responses already in flight report the same
  overload.

Growth also stops while the crawler's own process is CPU-bound (``cpu_max``:
more concurrency would only queue in our reactor) and while the slot does not
use the concurrency it has (app-limited: growing then means nothing).

The baseline is the lowest per-tick median latency seen so far. It never
forgets: a sliding minimum would, under the standing queue the law keeps,
slowly take the queued latency for the baseline and let the limit creep up
(the Vegas baseline drift). The price is the polite failure mode: a server
that became slower for good is crawled with less concurrency than it could take.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, field

from booksscraper.config.declared import default


@dataclass(frozen=True)
class LawParams:
    start: float = 2.0
    minimum: float = 1.0
    maximum: float = 64.0
    tolerance: float = 1.5  # latency up to tolerance x baseline is "no queue" (gradient2: 1.5)
    smoothing: float = 0.5  # growth per tick = smoothing x sqrt(limit)
    backoff: float = 0.7  # limit factor on 429/503
    rate_margin: float = 0.9  # rate cap = this x the rate accepted before a 429/503
    probe: float = 0.05  # rate cap growth per tick without throttling
    min_rate: float = 0.1  # requests/s: the rate cap never goes lower
    decrease_interval: float = 1.0  # seconds between two decreases
    cpu_max: float = 0.9  # fraction of one core; above it, no growth
    # Longest growth hold a Retry-After causes, seconds: the retries' cap, RETRY_AFTER_MAX.
    retry_after_max: float = default("RETRY_AFTER_MAX")
    min_samples: int = 3  # responses a tick needs before the law acts on it
    rate_window: float = 2.0  # seconds of history behind the accepted-rate estimate


@dataclass
class TickSignals:
    """What one slot saw during a tick."""

    duration: float  # seconds covered
    latencies: list[float] = field(default_factory=list)  # s, responses not throttled
    throttled: int = 0  # 429 and 503 responses
    retry_after: float | None = None  # the longest Retry-After among them, seconds
    peak_in_flight: int = 0  # most requests of the slot in transfer at once
    paced: bool = False  # requests waited in the slot's queue (the delay was what held them)
    cpu: float | None = None  # the crawler process's CPU, fraction of one core

    @property
    def responses(self) -> int:
        return len(self.latencies) + self.throttled


@dataclass(frozen=True)
class Decision:
    limit: float
    concurrency: int
    rate_cap: float | None
    pace_scale: float
    # slow_start, grow, latency, latency_wait, throttle, hold_retry_after, hold_cpu, hold_idle
    reason: str
    baseline: float | None
    p50: float | None

    @property
    def pace(self) -> float:
        """Seconds between request starts that the rate cap asks for (0 = none)."""
        return self.pace_scale / self.rate_cap if self.rate_cap else 0.0


class ConcurrencyLaw:
    def __init__(self, params: LawParams | None = None) -> None:
        self.params = p = params or LawParams()
        self.limit = min(p.maximum, max(p.minimum, p.start))
        self.rate_cap: float | None = None
        self.throttled_at_rate: float | None = None  # accepted rate when last throttled
        # Delay per 1/rate_cap: below 1 when timers fire late and the paced rate falls short.
        self.pace_scale = 1.0
        self.slow_start = True
        self.hold_until = -math.inf
        self.last_decrease = -math.inf  # by latency
        self.last_throttle = -math.inf  # by 429/503
        self._baseline: float | None = None
        self._accepted: deque[tuple[float, float, int]] = deque()  # (end time, duration, count)

    @property
    def concurrency(self) -> int:
        return max(1, int(self.limit + 1e-9))

    @property
    def baseline(self) -> float | None:
        return self._baseline

    def ready(self, signals: TickSignals) -> bool:
        """Enough to act on: a few responses, or any throttling."""
        return signals.throttled > 0 or signals.responses >= self.params.min_samples

    def accepted_rate(self) -> float:
        total = sum(d for _, d, _ in self._accepted)
        return sum(n for _, _, n in self._accepted) / total if total > 0 else 0.0

    def update(self, signals: TickSignals, now: float) -> Decision:
        p = self.params
        self._accepted.append((now, signals.duration, len(signals.latencies)))
        while self._accepted and self._accepted[0][0] <= now - p.rate_window - signals.duration:
            self._accepted.popleft()
        p50 = statistics.median(signals.latencies) if signals.latencies else None
        if p50 is not None and (self._baseline is None or p50 < self._baseline):
            self._baseline = p50
        if signals.retry_after:
            hold = min(signals.retry_after, p.retry_after_max)
            self.hold_until = max(self.hold_until, now + hold)

        if signals.throttled:
            reason = self._on_throttle(now)
        else:
            reason = self._on_latency(signals, p50, now)
        self.limit = min(p.maximum, max(p.minimum, self.limit))
        self._correct_pace(signals)
        return Decision(self.limit, self.concurrency, self.rate_cap, self.pace_scale, reason,
                        self.baseline, p50)

    def _correct_pace(self, signals: TickSignals) -> None:
        """Scale the delay so that the rate actually reached is the rate cap.

        Scrapy starts a paced request from a timer; on a busy event loop timers
        fire late, so a delay of 1/cap gives less than cap requests a second.
        """
        if self.rate_cap is None or signals.throttled or not signals.paced:
            return
        if signals.duration <= 0:
            return
        reached = signals.responses / signals.duration / self.rate_cap
        if reached < 0.95:
            self.pace_scale *= max(0.8, reached / 0.95)
        elif reached > 1.02:
            self.pace_scale = min(1.0, self.pace_scale * 1.05)
        self.pace_scale = max(0.2, self.pace_scale)

    def _on_throttle(self, now: float) -> str:
        p = self.params
        self.slow_start = False
        accepted = self.accepted_rate()
        cap = max(p.min_rate, p.rate_margin * accepted)
        if self.rate_cap is None:  # the first 429 paces the slot at once, whatever else
            self.rate_cap, self.throttled_at_rate = cap, accepted
        if now - self.last_throttle < p.decrease_interval:
            return "throttle"
        self.last_throttle = now
        self.limit *= p.backoff
        self.throttled_at_rate = accepted
        self.rate_cap = min(self.rate_cap, cap)
        return "throttle"

    def _on_latency(self, signals: TickSignals, p50: float | None, now: float) -> str:
        p = self.params
        baseline = self.baseline
        gradient = 1.0
        if p50 is not None and baseline is not None and p50 > 0:
            gradient = min(1.0, max(0.5, p.tolerance * baseline / p50))
        if gradient < 1.0:
            self.slow_start = False
            if now - self.last_decrease < p.decrease_interval:
                return "latency_wait"  # the last decrease has not shown its effect yet
            self.last_decrease = now
            self.limit *= gradient  # at once: a server that queues needs relief now
            return "latency"
        if now < self.hold_until:
            growth, reason = 0.0, "hold_retry_after"
        elif signals.cpu is not None and signals.cpu > p.cpu_max:
            growth, reason = 0.0, "hold_cpu"
        elif signals.peak_in_flight < 0.8 * self.concurrency:
            growth, reason = 0.0, "hold_idle"
        elif self.slow_start:
            growth, reason = self.limit, "slow_start"  # doubles at once
        else:
            growth, reason = p.smoothing * math.sqrt(self.limit), "grow"
        self.limit += growth
        # Probe the rate cap upward while the server neither throttles nor queues; slowly
        # near the rate that was throttled last time (like CUBIC near its last maximum).
        if self.rate_cap is not None and now >= self.hold_until:
            near = (self.throttled_at_rate is not None
                    and self.rate_cap >= p.rate_margin * self.throttled_at_rate)
            self.rate_cap *= 1.0 + (p.probe / 10 if near else p.probe)
        return reason
