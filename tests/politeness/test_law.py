"""The control law on simulated signals: no Scrapy, no sockets, no clocks."""

from __future__ import annotations

import pytest

from booksscraper.pacing.law import ConcurrencyLaw, LawParams, TickSignals

TICK = 0.5


def busy(law: ConcurrencyLaw, latency: float, n: int = 20, **extra: object) -> TickSignals:
    """A tick in which the slot used all the concurrency it had."""
    return TickSignals(duration=TICK, latencies=[latency] * n,
                       peak_in_flight=law.concurrency, **extra)  # type: ignore[arg-type]


def run(law: ConcurrencyLaw, ticks: int, latency: float, start: float = 0.0) -> float:
    now = start
    for _ in range(ticks):
        now += TICK
        law.update(busy(law, latency), now)
    return now


def test_grows_while_latency_stays_at_baseline() -> None:
    law = ConcurrencyLaw(LawParams(start=2, maximum=64))
    seen = [law.concurrency]
    now = 0.0
    for _ in range(10):
        now += TICK
        seen.append(law.update(busy(law, 0.05), now).concurrency)
    assert seen == sorted(seen)
    assert seen[-1] > 2 * seen[0]


def test_slow_start_doubles_then_additive_growth_after_first_queueing() -> None:
    law = ConcurrencyLaw(LawParams(start=2))
    d = law.update(busy(law, 0.05), TICK)
    assert d.reason == "slow_start" and d.limit == pytest.approx(4)
    law.update(busy(law, 0.20), 2 * TICK)  # queueing: slow start ends
    assert not law.slow_start
    before = law.limit
    d = law.update(busy(law, 0.05), 10.0)
    assert d.reason == "grow"
    assert before < d.limit < 2 * before


def test_latency_inflation_decreases_the_limit() -> None:
    law = ConcurrencyLaw(LawParams(start=16))
    now = run(law, 3, 0.05)
    high = law.limit
    d = law.update(busy(law, 0.25), now + TICK)  # 5x the baseline
    assert d.reason == "latency"
    assert d.limit < high


def test_settles_a_little_above_the_server_capacity() -> None:
    """Against a server with K workers, the limit settles near tolerance x K, not at the ceiling."""
    capacity, service = 8, 0.05
    law = ConcurrencyLaw(LawParams(start=1, maximum=64))
    now = 0.0
    limits = []
    for _ in range(200):
        now += TICK
        latency = service * max(1.0, law.concurrency / capacity)  # queueing past K
        limits.append(law.update(busy(law, latency), now).concurrency)
    settled = limits[-50:]
    assert capacity <= min(settled)
    assert max(settled) <= 2 * capacity


def test_throttling_cuts_the_limit_and_learns_a_rate_cap() -> None:
    law = ConcurrencyLaw(LawParams(start=16, backoff=0.7, rate_margin=0.9))
    now = run(law, 4, 0.05)  # 40 responses/s accepted
    before = law.limit
    d = law.update(TickSignals(duration=TICK, latencies=[0.05] * 18, throttled=2,
                               peak_in_flight=law.concurrency), now + TICK)
    assert d.reason == "throttle"
    assert d.limit == pytest.approx(before * 0.7)
    assert d.rate_cap is not None and 30 < d.rate_cap < 40
    assert d.pace == pytest.approx(1 / d.rate_cap)


def test_throttles_in_flight_together_count_as_one_decrease() -> None:
    law = ConcurrencyLaw(LawParams(start=16, decrease_interval=1.0))
    now = run(law, 2, 0.05)
    law.update(TickSignals(duration=TICK, throttled=3, peak_in_flight=16), now + 0.1)
    once = law.limit
    law.update(TickSignals(duration=TICK, throttled=3, peak_in_flight=16), now + 0.5)
    assert law.limit == once
    law.update(TickSignals(duration=TICK, throttled=3, peak_in_flight=16), now + 1.2)
    assert law.limit < once


def test_rate_cap_is_probed_upward_while_nothing_is_throttled() -> None:
    law = ConcurrencyLaw(LawParams(start=4))
    now = run(law, 4, 0.05)
    law.update(TickSignals(duration=TICK, latencies=[0.05] * 10, throttled=1,
                           peak_in_flight=4), now + TICK)
    cap = law.rate_cap
    assert cap is not None
    run(law, 10, 0.05, start=now + 5)
    assert law.rate_cap is not None and law.rate_cap > cap


def test_retry_after_holds_growth_for_that_long() -> None:
    law = ConcurrencyLaw(LawParams(start=8))
    law.update(TickSignals(duration=TICK, latencies=[0.05] * 10, throttled=1, retry_after=3.0,
                           peak_in_flight=8), 1.0)
    held = law.limit
    d = law.update(busy(law, 0.05), 2.0)
    assert d.reason == "hold_retry_after" and d.limit == held
    d = law.update(busy(law, 0.05), 4.5)
    assert d.limit > held


def test_no_growth_while_the_crawler_is_cpu_bound() -> None:
    law = ConcurrencyLaw(LawParams(start=4, cpu_max=0.9))
    d = law.update(TickSignals(duration=TICK, latencies=[0.05] * 10, peak_in_flight=4, cpu=0.97),
                   TICK)
    assert d.reason == "hold_cpu" and d.limit == 4


def test_no_growth_when_the_slot_does_not_use_its_concurrency() -> None:
    law = ConcurrencyLaw(LawParams(start=8))
    d = law.update(TickSignals(duration=TICK, latencies=[0.05] * 10, peak_in_flight=2), TICK)
    assert d.reason == "hold_idle" and d.limit == 8


def test_limits_stay_within_bounds() -> None:
    law = ConcurrencyLaw(LawParams(start=3, minimum=2, maximum=5))
    run(law, 30, 0.05)
    assert law.concurrency == 5
    now = 100.0
    for _ in range(30):
        now += 2
        law.update(TickSignals(duration=TICK, throttled=5, peak_in_flight=5), now)
    assert law.concurrency == 2
    assert law.rate_cap is not None and law.rate_cap >= law.params.min_rate


def test_not_ready_on_too_few_responses() -> None:
    law = ConcurrencyLaw(LawParams(min_samples=3))
    assert not law.ready(TickSignals(duration=TICK, latencies=[0.05, 0.05]))
    assert law.ready(TickSignals(duration=TICK, latencies=[0.05] * 3))
    assert law.ready(TickSignals(duration=TICK, throttled=1))


def test_backs_off_when_capacity_drops_and_climbs_back_after() -> None:
    """Closed loop against a simulated server whose capacity goes 8 -> 2 -> 8."""
    service = 0.05
    law = ConcurrencyLaw(LawParams(start=2, maximum=64))
    now = 0.0

    def phase(capacity: int, ticks: int) -> list[int]:
        nonlocal now
        out = []
        for _ in range(ticks):
            now += TICK
            latency = service * max(1.0, law.concurrency / capacity)
            out.append(law.update(busy(law, latency), now).concurrency)
        return out

    high = phase(8, 40)
    low = phase(2, 20)
    back = phase(8, 40)
    assert max(low[-10:]) < min(high[-10:])  # backed off
    halved = next(i for i, c in enumerate(low) if c <= min(high[-10:]) / 2)
    assert halved * TICK <= 4.0  # within a few seconds
    assert min(back[-10:]) > max(low[-10:])  # climbed back


def test_pace_shrinks_when_late_timers_keep_the_rate_below_the_cap() -> None:
    law = ConcurrencyLaw(LawParams(start=4))
    now = run(law, 4, 0.05)
    law.update(TickSignals(duration=TICK, latencies=[0.05] * 20, throttled=1,
                           peak_in_flight=4), now + TICK)
    assert law.rate_cap is not None
    first = law.update(TickSignals(duration=TICK, latencies=[0.05] * 2, peak_in_flight=2,
                                   paced=True), now + 2).pace
    # Paced, yet far fewer responses than the cap allows: the delay gets shorter.
    later = law.update(TickSignals(duration=TICK, latencies=[0.05] * 2, peak_in_flight=2,
                                   paced=True), now + 3).pace
    assert later < first
    # Not paced (nothing waited in the queue): no correction.
    scale = law.pace_scale
    law.update(TickSignals(duration=TICK, latencies=[0.05] * 2, peak_in_flight=2), now + 4)
    assert law.pace_scale == scale
