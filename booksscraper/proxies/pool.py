"""The proxies' good/dead/unchecked pool: scrapy-rotating-proxies' ``Proxies``, one death an outage.

Each request records the outage generation of its proxy when it is sent
(``meta["proxy_generation"]``); a failure of a request sent before the proxy's latest death
does not mark it dead again (the package counts every request in flight through a dropped
proxy as one more failed attempt, so a 1-second outage rested the proxy for the better part
of an hour). A proxy that refused our credentials is taken out for good (``take_out``):
resting it would only fail again. Log lines show proxies with their passwords masked.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from rotating_proxies.expire import Proxies

from booksscraper.records.credentials import mask_proxy

logger = logging.getLogger(__name__)

GENERATION_META = "proxy_generation"


class ProxyPool(Proxies):
    """The package's good/dead/unchecked pool, logging masked URLs, one death per outage."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Deaths of each proxy so far: a request sent under an older count was in flight
        # when the proxy died, and its failure is part of that same outage.
        self.generation: dict[str, int] = dict.fromkeys(self.proxies, 0)
        # Proxies that refused our credentials: never handed out again.
        self.rejected: set[str] = set()

    def take_out(self, proxy: str) -> bool:
        """Out of the rotation for good; True the first time (False: already out)."""
        if proxy in self.rejected:
            return False
        self.rejected.add(proxy)
        for group in (self.good, self.unchecked, self.dead):
            group.discard(proxy)
        return True

    def mark_dead_once(self, proxy: str, sent_generation: int | None) -> bool:
        """Mark ``proxy`` dead unless the request was sent before its latest death.

        True when this is a new death, False for a stale failure of the same outage.
        """
        if proxy in self.rejected or (
            sent_generation is not None and sent_generation != self.generation[proxy]
        ):
            return False
        self.mark_dead(proxy)
        return True

    def mark_dead(self, proxy: str, _time: float | None = None) -> None:
        self.generation[proxy] += 1
        was_good = proxy in self.good
        state = self.proxies[proxy]
        self.unchecked.discard(proxy)
        self.good.discard(proxy)
        self.dead.add(proxy)
        state.backoff_time = self.backoff(state.failed_attempts)
        state.next_check = (_time or time.time()) + state.backoff_time
        state.failed_attempts += 1
        logger.info(
            "Proxy %s is dead%s; next check in %.0fs",
            mask_proxy(proxy),
            " (was good)" if was_good else "",
            state.backoff_time,
        )

    def mark_good(self, proxy: str) -> None:
        if proxy in self.rejected:
            return
        if proxy not in self.good:
            logger.debug("Proxy %s is good", mask_proxy(proxy))
        self.unchecked.discard(proxy)
        self.dead.discard(proxy)
        self.good.add(proxy)
        self.proxies[proxy].failed_attempts = 0

    def next_return(self) -> float | None:
        """When the first dead proxy is due back (a time.time() value), or None."""
        return min((self.proxies[p].next_check for p in self.dead), default=None)

    def state_of(self, proxy: str) -> str:
        if proxy in self.rejected:
            return "rejected"
        if proxy in self.good:
            return "good"
        return "dead" if proxy in self.dead else "unchecked"
