"""The User-Agent middleware's headers on requests, per mode."""

from __future__ import annotations

from scrapy import Request
from scrapy.utils.test import get_crawler

from booksscraper.middlewares.useragent import CLIENT_HINTS, UserAgentMiddleware


def middleware(**settings: object) -> UserAgentMiddleware:
    crawler = get_crawler(settings_dict={"USER_AGENT": "bot/1 (+https://x.example)", **settings})
    crawler.stats.open_spider()
    return UserAgentMiddleware.from_crawler(crawler)


def test_rotate_sends_each_profile_whole_and_drops_stale_client_hints() -> None:
    mw = middleware(USER_AGENT_MODE="rotate")
    request = Request("http://site/")
    seen_families = set()
    for _ in range(200):  # the same request object, as a retry would be
        mw.process_request(request)
        ua = request.headers["User-Agent"].decode()
        profile = next(p for p in mw.profiles if p.headers["User-Agent"] == ua)
        seen_families.add(profile.family)
        for name, value in profile.headers.items():
            assert request.headers[name].decode() == value
        has_hints = [h for h in CLIENT_HINTS if h in request.headers]
        assert bool(has_hints) == (profile.family in ("chrome", "edge")), profile.name
    assert seen_families == {"chrome", "edge", "firefox", "safari"}


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
