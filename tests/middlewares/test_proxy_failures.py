"""Proxies judged by what they answer, through real tinyproxy proxies: a proxy that refuses
our credentials and one that answers 502 to everything, each beside a good one."""

from __future__ import annotations

from pathlib import Path

import pytest

from booksscraper.records.credentials import mask_proxy, proxy_key
from tests.helpers import read_books, read_lines, run_crawl
from tests.middlewares.conftest import PROXY_PASSWORD, crawl_stats, free_port

pytestmark = pytest.mark.timeout(120)
WRONG = "not-the-Pa55word"


def wrong_password(proxy: str) -> str:
    """The proxy's URL with a password it refuses."""
    return proxy.replace(PROXY_PASSWORD, WRONG)


@pytest.mark.parametrize("bad_kind", ["credentials", "bad_gateway"])
def test_a_bad_proxy_beside_a_good_one_loses_nothing(
    make_sandbox, tinyproxies, tmp_path: Path, bad_kind: str
) -> None:
    sb = make_sandbox(books=150)
    good = tinyproxies.start("127.0.0.2")
    if bad_kind == "credentials":
        bad = wrong_password(tinyproxies.start("127.0.0.3", auth=True))
    else:  # its upstream is down: tinyproxy's own 502 page for every request
        bad = tinyproxies.start("127.0.0.3", upstream=f"127.0.0.1:{free_port()}")
    result = run_crawl(sb.base_url, tmp_path, "-s", f"ROTATING_PROXY_LIST={good},{bad}",
                       timeout=110)
    assert result.returncode == 0, result.stderr[-3000:]
    assert {b["url"] for b in read_books(tmp_path)} == {t["url"] for t in sb.truth()}
    assert read_lines(tmp_path / "failures.jsonl") == []
    stats = crawl_stats(result.stderr)
    assert stats[f"proxies/state/{proxy_key(good)}"] == "good"
    if bad_kind == "credentials":
        assert stats[f"proxies/state/{proxy_key(bad)}"] == "rejected"
        # Named once, masked.
        named = f"Proxy {mask_proxy(bad)} refused our credentials"
        assert result.stderr.count(named) == 1, result.stderr[-3000:]
        assert WRONG not in result.stderr + result.stdout
    else:
        assert stats[f"proxies/state/{proxy_key(bad)}"] in ("dead", "unchecked")
        assert stats.get("bans/proxy_error/502", 0) >= 1
        assert f"Proxy {bad} is dead" in result.stderr
    assert set(sb.stats()["by_ip"]) == {"127.0.0.2"}  # the bad one never reached the site


def test_every_proxy_refusing_its_credentials_stops_the_crawl_naming_them(
    make_sandbox, tinyproxies, tmp_path: Path
) -> None:
    sb = make_sandbox(books=10)
    bad = wrong_password(tinyproxies.start("127.0.0.3", auth=True))
    result = run_crawl(sb.base_url, tmp_path, "-s", f"ROTATING_PROXY_LIST={bad}", timeout=60)
    assert result.returncode == 1
    assert crawl_stats(result.stderr)["finish_reason"] == "proxies_unusable"
    lines = [line for line in result.stderr.splitlines() if "Every proxy is unusable" in line]
    assert len(lines) == 1 and mask_proxy(bad) in lines[0] and "rejected" in lines[0], lines
    assert WRONG not in result.stderr + result.stdout
    assert {f["reason"] for f in read_lines(tmp_path / "failures.jsonl")} == {"proxies_unusable"}
    assert sb.stats()["requests_total"] == 0


def test_the_sites_pace_holds_through_a_proxy_restart(
    make_sandbox, tinyproxies, tmp_path: Path
) -> None:
    # 10 requests/s for the site through 3 proxies; one stops with requests in flight and
    # starts again 1 s later on its port. Measured at the server (sliding 1-second window).
    rate = 10
    sb = make_sandbox(books=100, latency_ms=150)
    proxies = [tinyproxies.start(f"127.0.0.{n}") for n in (2, 3, 4)]
    port = int(proxies[1].rsplit(":", 1)[1])
    with tinyproxies.restarted_during(sb, port, "127.0.0.3", after_requests=40):
        result = run_crawl(
            sb.base_url, tmp_path, "-s", f"ROTATING_PROXY_LIST={','.join(proxies)}",
            "-s", f"POLITENESS_MAX_RPS={rate}", "-s", "ROTATING_PROXY_BACKOFF_BASE=1",
            "-s", "CONCURRENT_REQUESTS=16", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=16",
            timeout=110,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(read_books(tmp_path)) == 100
    assert crawl_stats(result.stderr).get("proxies/deaths", 0) >= 1  # the restart was felt
    assert sb.stats()["peak_rps"] <= rate + 1, sb.stats()["peak_rps"]
