"""Per-IP rate limits and bans (keyed by the TCP peer address), UA policing, robots.txt."""

from __future__ import annotations

import pytest

from booksscraper.sandbox import BLOCKED_MARKER
from booksscraper.sandbox.testing import RunningSandbox

from .net import get

pytestmark = pytest.mark.timeout(60)
SCRAPY_UA = "Scrapy/2.19.0 (+https://scrapy.org)"


def statuses(sb: RunningSandbox, n: int, source: str, ua: str = "test") -> list[int]:
    return [get(sb.base_url, "", source=source, headers={"User-Agent": ua}).status
            for _ in range(n)]


def test_token_bucket_per_ip(sb: RunningSandbox) -> None:
    sb.configure(rate_limit=0.1, rate_burst=3)
    assert statuses(sb, 5, "127.0.0.2") == [200, 200, 200, 429, 429]
    assert statuses(sb, 3, "127.0.0.3") == [200, 200, 200]  # another IP, its own bucket
    ans = get(sb.base_url, "", source="127.0.0.2")
    assert ans.status == 429 and int(ans.headers["retry-after"]) >= 1
    by_ip = sb.stats()["by_ip"]
    assert by_ip["127.0.0.2"]["count"] == 6 and by_ip["127.0.0.3"]["count"] == 3
    sb.reset()  # zeroes the buckets too
    assert statuses(sb, 1, "127.0.0.2") == [200]


@pytest.mark.parametrize("response", ["403", "200"])
def test_ban_after_abuse(sb: RunningSandbox, response: str) -> None:
    sb.configure(rate_limit=0.1, rate_burst=2, ban_after=2, ban_response=response)
    assert statuses(sb, 4, "127.0.0.2") == [200, 200, 429, 429]
    ban = get(sb.base_url, "catalogue/page-2.html", source="127.0.0.2")
    assert ban.status == int(response)
    assert b"<title>Access denied</title>" in ban.body and BLOCKED_MARKER.encode() in ban.body
    assert statuses(sb, 2, "127.0.0.2") == [int(response)] * 2  # the ban sticks
    assert statuses(sb, 2, "127.0.0.3") == [200, 200]
    sb.reset()
    assert statuses(sb, 1, "127.0.0.2") == [200]


def test_configured_banned_ips(sb: RunningSandbox) -> None:
    sb.configure(banned_ips=["127.0.0.3"])
    assert statuses(sb, 2, "127.0.0.3") == [403, 403]
    assert statuses(sb, 2, "127.0.0.2") == [200, 200]
    assert sb.stats()["by_status"] == {"200": 2, "403": 2}


def test_default_scrapy_user_agent_blocked(sb: RunningSandbox) -> None:
    assert statuses(sb, 1, "127.0.0.2", SCRAPY_UA) == [200]  # off by default
    sb.configure(block_default_ua=True)
    assert statuses(sb, 2, "127.0.0.2", SCRAPY_UA) == [403, 403]
    assert statuses(sb, 2, "127.0.0.2", "Mozilla/5.0 booksbot") == [200, 200]
    assert sb.stats()["by_user_agent"] == {SCRAPY_UA: 3, "Mozilla/5.0 booksbot": 2}


def test_user_agent_rate_429(sb: RunningSandbox) -> None:
    sb.configure(ua_max_rps=3, ua_action="429")
    got = statuses(sb, 6, "127.0.0.2", "greedy")
    assert got[:3] == [200, 200, 200] and 429 in got[3:]
    assert statuses(sb, 1, "127.0.0.2", "polite") == [200]


def test_user_agent_rate_ban(sb: RunningSandbox) -> None:
    sb.configure(ua_max_rps=2, ua_action="ban")
    got = statuses(sb, 5, "127.0.0.2", "greedy")
    assert got[:2] == [200, 200] and 403 in got
    assert statuses(sb, 1, "127.0.0.3", "greedy") == [403]  # the UA is banned, from any IP
    assert statuses(sb, 1, "127.0.0.2", "polite") == [200]


def test_robots_txt(sb: RunningSandbox) -> None:
    assert get(sb.base_url, "robots.txt").status == 404
    sb.configure(robots_disallow=["/catalogue/category/"], crawl_delay=2)
    ans = get(sb.base_url, "robots.txt")
    assert ans.status == 200 and ans.headers["content-type"] == "text/plain"
    assert ans.body.decode().splitlines() == [
        "User-agent: *", "Disallow: /catalogue/category/", "Crawl-delay: 2"]
    sb.configure(robots_txt="User-agent: *\nDisallow: /\n")
    assert get(sb.base_url, "robots.txt").body == b"User-agent: *\nDisallow: /\n"
