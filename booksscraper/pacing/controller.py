"""The adaptive controller: one control law per site, fed what the site saw, deciding its pace.

Pure (no Scrapy, no clock, no psutil), like ``law.py`` beside it: the extension
``booksscraper.extensions.adaptive`` tells it each raw response of a site and
the crawler's CPU at every step, and applies the decisions through the site pacer.

For each site it keeps a ``ConcurrencyLaw`` and the window of signals since the
site's last decision (latency of each response that was not throttled, 429/503
and the longest Retry-After, the peak in-flight, whether requests waited for their
send time). A step gives the window to the law once it is ``ready`` (a few
responses, or any throttling); a window that is not ready keeps collecting. A
throttling answer steps its site at once, not at the next step: requests keep
leaving at the old pace meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass

from booksscraper.pacing.law import ConcurrencyLaw, Decision, LawParams, TickSignals


@dataclass
class SiteState:
    law: ConcurrencyLaw
    signals: TickSignals
    window_start: float
    pace: float = 0.0  # the pace last decided


@dataclass(frozen=True)
class Step:
    """A site's decision, and the window of signals it was made on."""

    site: str
    decision: Decision
    signals: TickSignals
    pace: float


class AdaptiveController:
    def __init__(self, params: LawParams) -> None:
        self.params = params
        self.sites: dict[str, SiteState] = {}
        self.cpu = 0.0  # the crawler process's CPU at the last step, fraction of one core

    def add(self, site: str, now: float) -> int | None:
        """Start controlling ``site``: its starting concurrency, or None if already known."""
        if site in self.sites:
            return None
        law = ConcurrencyLaw(self.params)
        self.sites[site] = SiteState(law, TickSignals(duration=0.0), now)
        return law.concurrency

    def response(
        self,
        site: str,
        now: float,
        *,
        throttled: bool,
        retry_after: float | None,
        latency: float | None,
        in_flight: int,
        paced: bool,
    ) -> Step | None:
        """Count one raw response of ``site``; a throttling one steps the site at once."""
        self.add(site, now)
        state = self.sites[site]
        sig = state.signals
        sig.peak_in_flight = max(sig.peak_in_flight, in_flight)
        sig.paced = sig.paced or paced
        if throttled:
            sig.throttled += 1
            if retry_after is not None:
                sig.retry_after = max(sig.retry_after or 0.0, retry_after)
            return self._step_site(site, state, now, self.cpu)
        if latency is not None:
            sig.latencies.append(latency)
        return None

    def step(self, now: float, cpu: float) -> list[Step]:
        """Every site whose window is ready decides; the others keep collecting."""
        self.cpu = cpu
        steps = (self._step_site(site, state, now, cpu) for site, state in self.sites.items())
        return [step for step in steps if step is not None]

    def _step_site(self, site: str, state: SiteState, now: float, cpu: float) -> Step | None:
        sig = state.signals
        sig.duration = now - state.window_start
        sig.cpu = cpu
        if not state.law.ready(sig):
            return None  # keep collecting into the same window
        decision = state.law.update(sig, now)
        state.signals = TickSignals(duration=0.0)
        state.window_start = now
        state.pace = decision.pace
        return Step(site, decision, sig, state.pace)
