"""Real `scrapy crawl books` runs against sandboxes: direction and ordering, no timing targets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from booksscraper.output.jsonlines import read_json_lines
from booksscraper.sandbox.testing import running_sandbox
from tests.helpers import read_books, run_crawl

ADAPTIVE = (
    "-s", "ADAPTIVE_CONCURRENCY_ENABLED=True",
    "-s", "ADAPTIVE_CONCURRENCY_TRACE=trace.jsonl",
    "-s", "LOG_LEVEL=WARNING",
)


def stats_of(out: Path) -> dict[str, Any]:
    import json

    return json.loads((out / "stats.json").read_text())


@pytest.mark.timeout(120)
def test_concurrency_rises_while_the_server_is_idle(tmp_path: Path) -> None:
    with running_sandbox(books=200, seed=7, latency_ms=20) as sb:
        result = run_crawl(sb.base_url, tmp_path, *ADAPTIVE, "-s", "ADAPTIVE_CONCURRENCY_START=1",
                           "-s", "CONCURRENT_REQUESTS=32")
        server = sb.stats()
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(read_books(tmp_path)) == 200
    trace = read_json_lines(tmp_path / "trace.jsonl")
    levels = [step["concurrency"] for step in trace]
    assert levels, "the controller never stepped"
    assert max(levels) > 1 + 2  # grew well past its start of 1
    assert levels.index(max(levels)) > 0
    assert server["peak_in_flight"] > 1
    assert stats_of(tmp_path)["adaptive/step/slow_start"] >= 1


@pytest.mark.timeout(120)
def test_concurrency_falls_after_429s_and_the_retry_slowdown_stays_on_top(tmp_path: Path) -> None:
    # 80 books: the 429s come in the first second; at 15 req/s the crawl lasts ~6 s.
    with running_sandbox(books=80, seed=7, latency_ms=20, rate_limit=15, rate_burst=5) as sb:
        result = run_crawl(sb.base_url, tmp_path, *ADAPTIVE, "-s", "ADAPTIVE_CONCURRENCY_START=8",
                           "-s", "CONCURRENT_REQUESTS=32")
        server = sb.stats()
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(read_books(tmp_path)) == 80  # every 429 was retried until it got through
    assert server["by_status"].get("429", 0) > 0  # the sandbox did throttle us
    trace = read_json_lines(tmp_path / "trace.jsonl")
    first = next(i for i, step in enumerate(trace) if step["reason"] == "throttle")
    # The throttle step itself cut the concurrency the step before it (or the start) had.
    before = trace[first - 1]["concurrency"] if first else 8
    assert trace[first]["concurrency"] < before
    assert trace[first]["rate_cap"] is not None  # a rate cap was learned...
    assert trace[first]["pace"] > 0  # ...and paces the site
    stats = stats_of(tmp_path)
    assert stats["adaptive/throttled"] >= 1
    # The pacer's 429 slow-down ran too, and the controller's pace did not undo it:
    # the site's interval is the largest of the two.
    assert stats["retry/slowdown/raised"] >= 1
    assert all(step["interval"] >= step["pace"] - 1e-6 for step in trace)


def _client_spacing(server: dict[str, Any]) -> tuple[int, float]:
    (client,) = server["by_ip"].values()
    return client["count"], client["last"] - client["first"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("sandbox_options", "settings", "spacing"),
    [
        ({"crawl_delay": 0.25}, (), 0.25),
        ({}, ("-s", "POLITENESS_MAX_RPS=4"), 0.25),
    ],
    ids=["robots-crawl-delay", "max-rps"],
)
def test_request_spacing_is_respected(
    tmp_path: Path, sandbox_options: dict[str, Any], settings: tuple[str, ...], spacing: float
) -> None:
    """Server-side: N requests over at least (N - 2) x spacing (robots.txt itself goes first).

    The same crawl without the floor is the control: it must be far denser,
    or this test could not tell whether the floor did anything.
    """
    with running_sandbox(books=12, seed=7, **sandbox_options) as sb:
        polite = run_crawl(sb.base_url, tmp_path / "polite", *settings, "-s", "LOG_LEVEL=WARNING")
        count, span = _client_spacing(sb.stats())
        sb.reset()
        control = run_crawl(sb.base_url, tmp_path / "control", "-s", "LOG_LEVEL=WARNING",
                            "-s", "POLITENESS_OBEY_CRAWL_DELAY=False")
        control_count, control_span = _client_spacing(sb.stats())
    assert polite.returncode == 0, polite.stderr[-2000:]
    assert control.returncode == 0, control.stderr[-2000:]
    assert len(read_books(tmp_path / "polite")) == 12
    assert count >= 12
    assert span >= 0.9 * spacing * (count - 2)
    assert control_span < spacing * (control_count - 2) / 2
    assert stats_of(tmp_path / "polite")["pacing/held"] >= 1  # held outside the downloader


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (("-s", "ADAPTIVE_CONCURRENCY_ENABLED=1", "-s", "AUTOTHROTTLE_ENABLED=1"),
         "error: ADAPTIVE_CONCURRENCY_ENABLED: AutoThrottle"),
        (("-s", "ADAPTIVE_CONCURRENCY_ENABLED=1", "-s", "ADAPTIVE_CONCURRENCY_START=100",
          "-s", "ADAPTIVE_CONCURRENCY_MAX=8"), "error: ADAPTIVE_CONCURRENCY_START"),
        (("-s", "POLITENESS_MAX_RPS=fast"), "error: POLITENESS_MAX_RPS"),
    ],
    ids=["with-autothrottle", "start-above-max", "max-rps-not-a-number"],
)
def test_bad_settings_are_one_line_and_exit_2(
    tmp_path: Path, settings: tuple[str, ...], message: str
) -> None:
    result = run_crawl("http://127.0.0.1:9/", tmp_path, *settings)
    assert result.returncode == 2
    assert message in result.stderr
