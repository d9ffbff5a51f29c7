"""The site's pace holds whatever carries the requests: real tinyproxies, real crawls, measured
at the server (the sandbox's sliding 1-second window over every client)."""

from __future__ import annotations

from pathlib import Path

import pytest

from booksscraper.sandbox.testing import running_sandbox
from tests.helpers import read_books, run_crawl
from tests.middlewares.conftest import crawl_stats

pytestmark = pytest.mark.timeout(120)

WIDE_OPEN = ("-s", "CONCURRENT_REQUESTS=16", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=16")


def test_max_rps_is_per_site_through_three_proxies(tinyproxies, tmp_path: Path) -> None:
    rate = 6
    proxies = [tinyproxies.start(f"127.0.0.{n}") for n in (2, 3, 4)]
    with running_sandbox(books=40, seed=7) as sb:
        result = run_crawl(
            sb.base_url, tmp_path, *WIDE_OPEN, "-s", f"POLITENESS_MAX_RPS={rate}",
            "-s", f"ROTATING_PROXY_LIST={','.join(proxies)}", "-s", "LOG_LEVEL=WARNING",
        )
        server = sb.stats()
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(read_books(tmp_path)) == 40
    assert set(server["by_ip"]) == {"127.0.0.2", "127.0.0.3", "127.0.0.4"}  # all proxies used
    # A 1-second window holds at most rate + 1 requests spaced 1/rate apart (both ends).
    assert server["peak_rps"] <= rate + 1, server["peak_rps"]
    assert server["peak_rps"] >= rate - 1  # and the crawl did push against the limit


def test_crawl_delay_holds_through_proxies(tinyproxies, tmp_path: Path) -> None:
    spacing = 0.25
    proxies = [tinyproxies.start(f"127.0.0.{n}") for n in (2, 3, 4)]
    with running_sandbox(books=12, seed=7, crawl_delay=spacing) as sb:
        result = run_crawl(
            sb.base_url, tmp_path, *WIDE_OPEN,
            "-s", f"ROTATING_PROXY_LIST={','.join(proxies)}", "-s", "LOG_LEVEL=WARNING",
        )
        clients = sb.stats()["by_ip"].values()
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(read_books(tmp_path)) == 12
    count = sum(c["count"] for c in clients)
    span = max(c["last"] for c in clients) - min(c["first"] for c in clients)
    assert count >= 12 and len(clients) >= 2
    # robots.txt itself goes first, before the delay is known.
    assert span >= 0.9 * spacing * (count - 2), (count, span)


def test_no_request_waits_inside_the_downloader(tmp_path: Path) -> None:
    # 16 requests at a time against a 5 requests/s site: the pace, not the connections,
    # holds the crawl back. Scrapy's slot delay would queue them in the downloader (each
    # holding one of CONCURRENT_REQUESTS for seconds); the pacer holds them outside.
    with running_sandbox(books=20, seed=7) as sb:
        result = run_crawl(sb.base_url, tmp_path, *WIDE_OPEN, "-s", "POLITENESS_MAX_RPS=5")
        server = sb.stats()
    assert result.returncode == 0, result.stderr[-3000:]
    stats = crawl_stats(result.stderr)
    assert stats["pacing/held"] > 10
    # Measured by the downloader: from reaching it to being sent.
    assert stats["downloader/slot_wait_max"] < 0.1
    assert server["peak_rps"] <= 5 + 1
