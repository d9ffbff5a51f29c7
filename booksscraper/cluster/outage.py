"""Redis unreachable: retried with backoff for a bounded time, told once per change.

A worker that loses Redis logs one line ("lost"), retries less and less often (its poll
interval doubled each time, at most ``MAX_RETRY_INTERVAL``), logs one line when Redis is
back, and gives up after ``CLUSTER_REDIS_LOST_TIMEOUT`` seconds: no traceback per poll.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# Redis away (down, restarting, network): worth waiting for. Anything else is a bug.
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)
MAX_RETRY_INTERVAL = 5.0


class RedisOutage:
    def __init__(self, timeout: float, poll_interval: float) -> None:
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.lost_since: float | None = None
        self.retry_at = 0.0
        self.interval = poll_interval

    @property
    def lost(self) -> bool:
        return self.lost_since is not None

    def due(self) -> bool:
        """Time to try Redis again (always, while it is reachable)."""
        return self.lost_since is None or time.monotonic() >= self.retry_at

    def failed(self, exc: BaseException) -> bool:
        """Redis failed us again; True once it has been away for longer than the bound."""
        now = time.monotonic()
        if self.lost_since is None:
            self.lost_since = now
            self.interval = self.poll_interval
            logger.warning("Redis lost (%s): retrying for up to %gs (CLUSTER_REDIS_LOST_TIMEOUT)",
                           describe(exc), self.timeout)
        else:
            self.interval = min(self.interval * 2, MAX_RETRY_INTERVAL)
        # The last try falls on the bound, not an interval past it.
        self.retry_at = min(now + self.interval, self.lost_since + self.timeout)
        return self.away() >= self.timeout

    def away(self) -> float:
        return 0.0 if self.lost_since is None else time.monotonic() - self.lost_since

    def reached(self) -> None:
        """Redis answered: one line if it had been away."""
        if self.lost_since is not None:
            logger.warning("Redis back after %.1fs", self.away())
            self.lost_since = None


def describe(exc: BaseException) -> str:
    """The error in one line (redis-py's messages may span several)."""
    return " ".join(str(exc).split()) or type(exc).__name__
