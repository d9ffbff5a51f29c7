"""The pure parts of retrying: the delay law, Retry-After, the retry budget, reason names.

No Scrapy state here, so each piece is unit-tested on its own; the retry
middleware (``retry.py``) puts them together.
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Callable
from email.utils import parsedate_to_datetime

from scrapy.core.downloader.handlers.http11 import TunnelError
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    ResponseDataLossError,
)
from twisted.internet import error as net
from twisted.web.client import ResponseFailed

# Answers that mean "too fast" for the whole site: the pacer slows the site down, the
# retry middleware retries them outside its budget, ban detection never takes them for bans.
THROTTLE_STATUSES = frozenset({429, 503})


def full_jitter_delay(
    attempt: int, base: float, cap: float, rand: Callable[[float, float], float] = random.uniform
) -> float:
    """Seconds to wait before retry number ``attempt + 1``: random(0, min(cap, base * 2**attempt)).

    "Full jitter" (AWS architecture blog, 2015) spreads retries of many clients
    evenly over the window instead of bunching them at the same instants.
    """
    if base <= 0 or cap <= 0:
        return 0.0
    # 2**attempt overflows a float past ~1024; the cap is reached long before.
    exponent_at_cap = math.log2(cap / base) if cap > base else 0
    ceiling = cap if attempt >= exponent_at_cap else base * 2**attempt
    return rand(0, ceiling)


def parse_retry_after(value: bytes | str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks us to wait (delta-seconds or HTTP date), or None."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class RetryBudget:
    """Retries may be at most ``ratio`` of the requests seen in the last ``window`` seconds.

    ``minimum`` retries per window are always allowed, so a small crawl or a
    slow start can still retry. Like Finagle's retry budget: when a site
    fails wholesale we stop multiplying its load by RETRY_TIMES.
    """

    def __init__(
        self, ratio: float, minimum: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ratio = ratio
        self.minimum = minimum
        self.window = window
        self._clock = clock
        self._requests: deque[float] = deque()
        self._retries: deque[float] = deque()

    def _expire(self, now: float) -> None:
        for times in (self._requests, self._retries):
            while times and times[0] <= now - self.window:
                times.popleft()

    def record_request(self) -> None:
        self._requests.append(self._clock())

    def try_spend(self) -> bool:
        """Take one retry from the budget; False when the budget is exhausted."""
        now = self._clock()
        self._expire(now)
        allowed = max(self.minimum, self.ratio * len(self._requests))
        if len(self._retries) + 1 > allowed:
            return False
        self._retries.append(now)
        return True


_EXCEPTION_REASONS: tuple[
    tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...
] = (
    ((DownloadTimeoutError, net.TimeoutError, net.TCPTimedOutError), "timeout"),
    ((DownloadConnectionRefusedError, net.ConnectionRefusedError), "connection_refused"),
    ((CannotResolveHostError, net.DNSLookupError), "dns_lookup"),
    (ResponseDataLossError, "data_loss"),
    (TunnelError, "tunnel_error"),
    ((net.ConnectionLost, net.ConnectionDone, ResponseFailed), "connection_lost"),
    ((net.ConnectError, DownloadFailedError), "connect_error"),
)


def failure_reason(exception: BaseException) -> str:
    """A short, stable name for a download exception, used in stats keys and the failures file."""
    if isinstance(exception, ResponseFailed) and any(
        "DataLoss" in type(r.value).__name__ for r in exception.reasons
    ):
        return "data_loss"
    for classes, reason in _EXCEPTION_REASONS:
        if isinstance(exception, classes):
            return reason
    return type(exception).__name__
