"""Crawls through real tinyproxy proxies: bans, dead proxies, authentication, all-dead policy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from booksscraper.middlewares.useragent import DEFAULT_PROFILES_FILE, load_profiles
from booksscraper.records.credentials import proxy_key
from tests.helpers import read_books, read_lines, run_crawl, run_crawl_reacting
from tests.middlewares.conftest import PROXY_PASSWORD, crawl_stats

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("ban_response", ["200", "403"])
def test_banned_proxies_die_healthy_ones_carry_the_crawl(
    make_sandbox, tinyproxies, dead_proxy: str, tmp_path: Path, ban_response: str
) -> None:
    sb = make_sandbox(books=80, banned_ips=["127.0.0.3", "127.0.0.4"], ban_response=ban_response)
    healthy = tinyproxies.start("127.0.0.2")
    banned = [tinyproxies.start("127.0.0.3"), tinyproxies.start("127.0.0.4")]
    authenticated = tinyproxies.start("127.0.0.5", auth=True)
    proxies = [healthy, *banned, authenticated, dead_proxy]
    out = tmp_path / "out"
    result = run_crawl(
        sb.base_url,
        out,
        "-s",
        f"ROTATING_PROXY_LIST={','.join(proxies)}",
        "-s",
        "USER_AGENT_MODE=per_proxy",
        "-s",
        "LOG_LEVEL=DEBUG",
        timeout=110,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert {b["url"] for b in read_books(out)} == {t["url"] for t in sb.truth()}
    stats = crawl_stats(result.stderr)
    state = {p: stats[f"proxies/state/{proxy_key(p)}"] for p in proxies}
    assert state == {
        healthy: "good",
        banned[0]: "dead",
        banned[1]: "dead",
        authenticated: "good",
        dead_proxy: "dead",
    }
    if ban_response == "200":
        assert stats["bans/blocked_page"] >= 2
    else:
        assert stats["bans/status/403"] >= 2
    assert stats["bans/error/connection_refused"] >= 1
    by_ip = sb.stats()["by_ip"]
    # The authenticated proxy fetched pages: its credentials were sent and accepted.
    assert by_ip["127.0.0.5"]["count"] > 10 and by_ip["127.0.0.2"]["count"] > 10
    assert "127.0.0.1" not in by_ip  # nothing went direct
    # One browser profile per proxy, every one from the shipped file.
    profile_uas = {p.headers["User-Agent"] for p in load_profiles(DEFAULT_PROFILES_FILE)}
    seen_uas = set(sb.stats()["by_user_agent"])
    assert seen_uas <= profile_uas and 1 <= len(seen_uas) <= len(proxies)
    # Credentials never leave the process: not in the log, not in any output file.
    written = "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    assert PROXY_PASSWORD not in result.stderr + result.stdout + written
    assert "ScrapyDeprecationWarning" not in result.stderr


def test_all_proxies_dead_can_close_the_spider(
    make_sandbox, dead_proxy: str, tmp_path: Path
) -> None:
    sb = make_sandbox(books=10)
    result = run_crawl(
        sb.base_url,
        tmp_path,
        "-s",
        f"ROTATING_PROXY_LIST={dead_proxy}",
        "-s",
        "ROTATING_PROXY_ALL_DEAD=close",
        timeout=60,
    )
    assert result.returncode == 1
    assert crawl_stats(result.stderr)["finish_reason"] == "all_proxies_dead"
    assert "all_proxies_dead" in result.stderr
    assert sb.stats()["requests_total"] == 0
    dropped = read_lines(tmp_path / "failures.jsonl")
    assert dropped and {f["reason"] for f in dropped} == {"all_proxies_dead"}


def test_all_proxies_dead_waits_for_the_first_to_come_back(
    make_sandbox, tinyproxies, dead_proxy: str, tmp_path: Path
) -> None:
    sb = make_sandbox(books=20)
    port = int(dead_proxy.rsplit(":", 1)[1])
    # The proxy comes up on the port that was dead once the crawl has found every proxy dead.
    result = run_crawl_reacting(
        sb.base_url,
        tmp_path,
        "-s",
        f"ROTATING_PROXY_LIST={dead_proxy}",
        "-s",
        "ROTATING_PROXY_BACKOFF_BASE=1",
        "-s",
        "ROTATING_PROXY_BACKOFF_CAP=2",
        on_line="Every proxy is dead",
        then=lambda: tinyproxies.start("127.0.0.6", port=port),
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    stats = crawl_stats(result.stderr)
    assert stats["proxies/all_dead"] >= 1 and stats["proxies/wait_seconds"] > 0
    assert len(read_books(tmp_path)) == 20
    assert set(sb.stats()["by_ip"]) == {"127.0.0.6"}


def test_the_sites_own_hiccups_do_not_kill_proxies(
    make_sandbox, tinyproxies, tmp_path: Path
) -> None:
    # 503, 429 and the odd empty page are the site's doing, not a ban of the proxy.
    sb = make_sandbox(books=100, fault_503=0.05, fault_429=0.05, retry_after=1, fault_empty=0.03)
    proxies = [tinyproxies.start("127.0.0.2"), tinyproxies.start("127.0.0.3")]
    result = run_crawl(
        sb.base_url, tmp_path, "-s", f"ROTATING_PROXY_LIST={','.join(proxies)}", timeout=110
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert {b["url"] for b in read_books(tmp_path)} == {t["url"] for t in sb.truth()}
    stats = crawl_stats(result.stderr)
    assert [stats[f"proxies/state/{proxy_key(p)}"] for p in proxies] == ["good", "good"]
    assert not [key for key in stats if key.startswith("bans/")]
    faults = sb.stats()["faults"]
    assert stats["retry/reason_count/http_503"] == faults["503"] > 0
    assert stats["retry/reason_count/http_429"] == faults["429"] > 0


def test_a_short_proxy_outage_is_one_death_and_the_proxy_comes_back(
    make_sandbox, tinyproxies, tmp_path: Path
) -> None:
    # 24 requests in flight over 3 proxies; one proxy stops and starts again 1 s later on
    # the same port. The requests already in flight through it fail too: one outage, so
    # one death, a rest of seconds (BACKOFF_BASE=2), and the proxy carries pages again.
    sb = make_sandbox(books=400, latency_ms=200)
    proxies = [tinyproxies.start(f"127.0.0.{n}") for n in (2, 3, 4)]
    port = int(proxies[1].rsplit(":", 1)[1])
    with tinyproxies.restarted_during(sb, port, "127.0.0.3", after_requests=60) as after_restart:
        result = run_crawl(
            sb.base_url, tmp_path,
            "-s", f"ROTATING_PROXY_LIST={','.join(proxies)}",
            "-s", "ROTATING_PROXY_BACKOFF_BASE=2",
            "-s", "CONCURRENT_REQUESTS=24",
            "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8",
            timeout=110,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(read_books(tmp_path)) == 400
    stats = crawl_stats(result.stderr)
    # Requests sent before the death failed without killing the proxy again.
    assert stats.get("proxies/stale_failures", 0) >= 1
    # Deaths only while it was really down (a reanimated proxy tried within the second
    # it was off dies again, rightly); never the dozens of the requests in flight.
    rests = [float(r) for r in re.findall(r"is dead.*?next check in (\d+)s", result.stderr)]
    assert rests and max(rests) <= 2 * 2 ** 2, rests
    assert stats["proxies/deaths"] == len(rests)
    assert sum(v for k, v in stats.items() if k.startswith("bans/")) == len(rests)
    assert f"{len(rests)} bans" in result.stderr  # the summary line counts outages
    # Measured at the server: the proxy carried pages again after its rest.
    assert sb.stats()["by_ip"]["127.0.0.3"]["count"] > after_restart["count"] + 5
