"""The User-Agent middleware's headers on requests, per mode."""

from __future__ import annotations

import pytest
from scrapy import Request
from scrapy.utils.test import get_crawler

from booksscraper.middlewares.useragent import CLIENT_HINTS, UserAgentMiddleware


def middleware(**settings: object) -> UserAgentMiddleware:
    crawler = get_crawler(settings_dict={"USER_AGENT": "bot/1 (+https://x.example)", **settings})
    crawler.stats.open_spider()
    return UserAgentMiddleware.from_crawler(crawler)


def test_a_retry_that_changes_profile_carries_exactly_the_new_profile_headers() -> None:
    mw = middleware(USER_AGENT_MODE="rotate")
    request = Request("http://site/", headers={"X-Own": "kept"})
    seen_families = set()
    for _ in range(200):
        mw.process_request(request)
        ua = request.headers["User-Agent"].decode()
        profile = next(p for p in mw.profiles if p.headers["User-Agent"] == ua)
        seen_families.add(profile.family)
        sent = {k.decode().lower(): request.headers[k].decode() for k in request.headers}
        expected = {k.lower(): v for k, v in {**profile.headers, "X-Own": "kept"}.items()}
        # The profile's headers, the request's own, nothing from an earlier profile.
        assert sent == expected, profile.name
        request = request.copy()  # as get_retry_request does
    assert seen_families == {"chrome", "edge", "firefox", "safari"}


@pytest.mark.parametrize(
    ("referer", "site"),
    [
        (None, "none"),  # a start URL: typed in
        ("http://site/catalogue/page-1.html", "same-origin"),  # a followed link
        ("https://site/", "cross-site"),  # another scheme is another origin
        ("http://elsewhere.example/", "cross-site"),
    ],
)
def test_sec_fetch_site_says_how_the_request_came_about(referer: str | None, site: str) -> None:
    mw = middleware(USER_AGENT_MODE="rotate")
    for _ in range(30):
        request = Request("http://site/catalogue/a_1/index.html")
        if referer:
            request.headers["Referer"] = referer
        mw.process_request(request)
        ua = request.headers["User-Agent"].decode()
        profile = next(p for p in mw.profiles if p.headers["User-Agent"] == ua)
        assert request.headers["Sec-Fetch-Site"].decode() == site, profile.name
        # A click is a user-activated navigation: Sec-Fetch-User stays where the browser sends it.
        assert ("Sec-Fetch-User" in request.headers) == ("Sec-Fetch-User" in profile.headers)


def test_per_proxy_keeps_one_profile_per_proxy() -> None:
    mw = middleware(USER_AGENT_MODE="per_proxy")
    agents: dict[str, set[bytes]] = {}
    for i in range(60):
        proxy = f"http://127.0.0.1:{8000 + i % 3}"
        request = Request("http://site/", meta={"proxy": proxy})
        mw.process_request(request)
        agents.setdefault(proxy, set()).add(request.headers["User-Agent"])
    assert all(len(uas) == 1 for uas in agents.values())


def test_identify_sends_the_project_user_agent_only() -> None:
    mw = middleware()
    request = Request("http://site/")
    mw.process_request(request)
    assert request.headers["User-Agent"] == b"bot/1 (+https://x.example)"
    assert not any(h in request.headers for h in CLIENT_HINTS)
    assert mw.stats.get_value("useragent/family/identify") == 1
