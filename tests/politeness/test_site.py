"""A site's limits: the largest wins; a 429/503 doubles the interval, then it decays."""

from __future__ import annotations

from booksscraper.pacing.site import Site, SlowDown

SLOWDOWN = SlowDown(minimum=0.5, maximum=4.0, recovery=0.5)


def test_the_interval_is_the_largest_limit() -> None:
    site = Site(crawl_delay=0.3, adaptive_pace=0.2)
    assert site.interval(0.1) == 0.3
    site.slowdown = 1.0
    assert site.interval(0.1) == 1.0
    assert site.interval(0.1, with_slowdown=False) == 0.3


def test_a_throttling_answer_doubles_the_interval_once_per_interval_up_to_the_maximum() -> None:
    site = Site()
    assert SLOWDOWN.raise_after_throttling(site, 0.0, now=10.0) == 0.5  # from the minimum
    assert SLOWDOWN.raise_after_throttling(site, 0.0, now=10.2) is None  # same overload
    assert SLOWDOWN.raise_after_throttling(site, 0.0, now=10.6) == 1.0
    for now in (12.0, 14.0, 20.0):
        SLOWDOWN.raise_after_throttling(site, 0.0, now=now)
    assert site.slowdown == 4.0
    assert SLOWDOWN.raise_after_throttling(site, 0.0, now=30.0) is None  # at the maximum


def test_successes_decay_the_slowdown_back_to_the_other_limits() -> None:
    site = Site(crawl_delay=0.2, slowdown=2.0)
    steps = 0
    while not SLOWDOWN.recover(site, 0.0):
        steps += 1
        assert 0.2 < site.slowdown < 2.0
    assert site.slowdown == 0.0 and steps == 7  # (2.0 - 0.2) / 2^n < 0.01 at n = 8


def test_an_off_slowdown_never_raises() -> None:
    assert SlowDown(0.5, 0.0, 0.5).raise_after_throttling(Site(), 0.0, now=1.0) is None


def test_the_adaptive_cap_limits_requests_in_flight() -> None:
    site = Site(adaptive_concurrency=2, in_flight=1)
    assert site.has_room()
    site.in_flight = 2
    assert not site.has_room()
    assert Site(in_flight=100).has_room()  # no cap
