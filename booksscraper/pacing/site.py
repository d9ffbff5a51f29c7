"""What one site may take now: the largest of its limits, and the slow-down after a 429/503."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from scrapy import Request


@dataclass
class Site:
    """One site's pacing state (``SitePacer.sites``, keyed by hostname)."""

    crawl_delay: float = 0.0
    slowdown: float = 0.0  # the interval after a 429/503, decaying back to 0
    last_raise: float = -math.inf  # monotonic
    adaptive_pace: float = 0.0
    adaptive_concurrency: int = 0  # 0 = no local cap
    tat: float = 0.0  # the local GCRA schedule (wall clock)
    last_sent: float = -math.inf  # monotonic: when this worker last let a request go
    in_flight: int = 0
    held: int = 0  # held for a send time, not yet back
    waiting_for_slot: deque[Request] = field(default_factory=deque)

    def interval(self, floor: float, *, with_slowdown: bool = True) -> float:
        """Seconds between two requests: the largest of ``floor`` (``DOWNLOAD_DELAY``,
        ``POLITENESS_MAX_RPS``, the cluster's rate), Crawl-delay, the adaptive pace and
        the slow-down."""
        interval = max(floor, self.crawl_delay, self.adaptive_pace)
        return max(interval, self.slowdown) if with_slowdown else interval

    def has_room(self) -> bool:
        """Under the adaptive controller's in-flight cap (or no cap)."""
        return not self.adaptive_concurrency or self.in_flight < self.adaptive_concurrency


@dataclass(frozen=True)
class SlowDown:
    """``RETRY_SLOWDOWN_*``: the interval doubles after a throttling answer, then decays."""

    minimum: float
    maximum: float
    recovery: float

    def raise_after_throttling(self, site: Site, floor: float, now: float) -> float | None:
        """The site's new, doubled interval, or None when it stays (off, at the maximum, or
        raised less than an interval ago: the responses in flight report the same overload)."""
        if self.maximum <= 0:
            return None
        current = site.interval(floor)
        if now - site.last_raise < current:
            return None
        slowed = min(self.maximum, max(current * 2, self.minimum))
        if slowed <= current:
            return None
        site.slowdown = slowed
        site.last_raise = now
        return slowed

    def recover(self, site: Site, floor: float) -> bool:
        """A success decays the slow-down towards the other limits; True once it is gone."""
        base = site.interval(floor, with_slowdown=False)
        site.slowdown = base + (site.slowdown - base) * self.recovery
        if site.slowdown - base < 0.01:
            site.slowdown = 0.0
            return True
        return False
