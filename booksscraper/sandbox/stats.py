"""Request statistics for GET /__stats: counts, per-IP peaks, in-flight, latency histogram."""

from __future__ import annotations

import time
from collections import Counter, deque
from typing import Any

# Upper bounds (ms) of the service-time histogram buckets; the last bucket is open-ended.
BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


class RateWindow:
    """Requests in the last second, and the peak of that count (a 1-second sliding window)."""

    __slots__ = ("peak", "times")

    def __init__(self) -> None:
        self.times: deque[float] = deque()
        self.peak = 0

    def hit(self, now: float) -> int:
        times = self.times
        times.append(now)
        edge = now - 1.0
        while times[0] <= edge:
            times.popleft()
        n = len(times)
        if n > self.peak:
            self.peak = n
        return n


class _Client:
    __slots__ = ("count", "first", "last", "window")

    def __init__(self, now: float) -> None:
        self.count = 0
        self.window = RateWindow()
        self.first = now
        self.last = now


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.started = time.time()
        self.total = 0
        self.bytes_sent = 0  # response bytes (head and body) of counted requests
        self.by_status: Counter[int] = Counter()
        self.by_kind: Counter[str] = Counter()
        self.by_ua: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.clients: dict[str, _Client] = {}
        self.window = RateWindow()
        # in_flight is a live gauge: requests being answered across a reset still end later.
        self.in_flight = getattr(self, "in_flight", 0)
        self.peak_in_flight = self.in_flight
        self.histogram = [0] * (len(BUCKETS_MS) + 1)

    def begin(self, ip: str, ua: str, kind: str) -> None:
        """Count a request as it arrives (control endpoints are not counted)."""
        mono, now = time.monotonic(), time.time()
        self.total += 1
        self.by_kind[kind] += 1
        self.by_ua[ua] += 1
        client = self.clients.get(ip)
        if client is None:
            client = self.clients[ip] = _Client(now)
        client.count += 1
        client.last = now
        client.window.hit(mono)
        self.window.hit(mono)
        self.in_flight += 1
        if self.in_flight > self.peak_in_flight:
            self.peak_in_flight = self.in_flight

    def end(self, status: int, service_s: float) -> None:
        """Count the answer: status 0 means no HTTP status was sent (reset, hang, ...)."""
        self.in_flight -= 1
        self.by_status[status] += 1
        ms = service_s * 1000
        i = 0
        for bound in BUCKETS_MS:
            if ms < bound:
                break
            i += 1
        self.histogram[i] += 1

    def snapshot(self) -> dict[str, Any]:
        labels = [f"<{b}ms" for b in BUCKETS_MS] + [f">={BUCKETS_MS[-1]}ms"]
        return {
            "started": self.started,
            "requests_total": self.total,
            "bytes_sent": self.bytes_sent,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "by_kind": dict(self.by_kind),
            "by_user_agent": dict(self.by_ua),
            "by_ip": {
                ip: {"count": c.count, "peak_rps": c.window.peak, "first": c.first, "last": c.last}
                for ip, c in self.clients.items()
            },
            "in_flight": self.in_flight,
            "peak_in_flight": self.peak_in_flight,
            "peak_rps": self.window.peak,
            "latency_histogram": dict(zip(labels, self.histogram, strict=True)),
            "faults": dict(self.faults),
        }
