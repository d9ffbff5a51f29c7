"""The adaptive controller's bookkeeping per site, without Scrapy: windows, steps, throttling."""

from __future__ import annotations

from booksscraper.pacing.controller import AdaptiveController
from booksscraper.pacing.law import LawParams


def respond(controller: AdaptiveController, site: str, now: float, **signals: object):
    values = {"throttled": False, "retry_after": None, "latency": 0.05, "in_flight": 1,
              "paced": False, **signals}
    return controller.response(site, now, **values)


def test_a_new_site_starts_at_start_once() -> None:
    controller = AdaptiveController(LawParams(start=3, minimum=1, maximum=8))
    assert controller.add("a", 0.0) == 3
    assert controller.add("a", 1.0) is None


def test_a_window_decides_once_it_has_enough_responses() -> None:
    controller = AdaptiveController(LawParams(start=2, minimum=1, maximum=8, min_samples=3))
    controller.add("a", 0.0)
    controller.add("b", 0.0)
    for now in (0.1, 0.2, 0.3):
        assert respond(controller, "a", now) is None
    respond(controller, "b", 0.3)  # one response: b keeps collecting
    steps = controller.step(0.5, cpu=0.1)
    assert [step.site for step in steps] == ["a"]
    (step,) = steps
    assert step.signals.responses == 3 and step.signals.duration == 0.5
    assert step.signals.cpu == 0.1 and step.decision.concurrency >= 2
    assert controller.sites["a"].signals.responses == 0  # a new window
    assert controller.sites["b"].signals.responses == 1  # the same window


def test_a_throttling_answer_steps_its_site_at_once() -> None:
    controller = AdaptiveController(LawParams(start=8, minimum=1, maximum=16))
    controller.add("a", 0.0)
    step = respond(controller, "a", 1.0, throttled=True, retry_after=2.0, in_flight=5)
    assert step is not None and step.decision.reason in ("throttle", "hold_retry_after")
    assert step.signals.throttled == 1 and step.signals.retry_after == 2.0
    assert step.signals.peak_in_flight == 5 and step.signals.latencies == []
    assert step.decision.concurrency < 8
