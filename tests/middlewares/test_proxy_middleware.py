"""The proxy middleware's request handling, with Scrapy's real HttpProxyMiddleware after it."""

from __future__ import annotations

import asyncio
import base64

import pytest
from scrapy import Request
from scrapy.downloadermiddlewares.httpproxy import HttpProxyMiddleware
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from booksscraper.middlewares.proxies import ProxyRotationMiddleware

AUTH = "http://bob:hunter2@127.0.0.1:8001"
PLAIN = "http://127.0.0.1:8002"


def middlewares(proxies: list[str]) -> tuple[ProxyRotationMiddleware, HttpProxyMiddleware]:
    crawler = get_crawler(settings_dict={"ROTATING_PROXY_LIST": proxies})
    return ProxyRotationMiddleware.from_crawler(crawler), HttpProxyMiddleware.from_crawler(crawler)


def send(ours: ProxyRotationMiddleware, stock: HttpProxyMiddleware, request: Request) -> None:
    asyncio.run(ours.process_request(request))
    stock.process_request(request)


def test_no_proxies_means_direct_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOOKS_PROXIES", raising=False)
    crawler = get_crawler(settings_dict={})
    with pytest.raises(NotConfigured):
        ProxyRotationMiddleware.from_crawler(crawler)


def test_each_proxy_has_its_own_download_slot_even_on_one_host() -> None:
    ours, stock = middlewares([AUTH, PLAIN])
    slots = set()
    for _ in range(50):
        request = Request("http://site/")
        send(ours, stock, request)
        slots.add(request.meta["download_slot"])
        assert request.meta["download_slot"] == request.meta["proxy"]
    assert slots == {"http://127.0.0.1:8001", "http://127.0.0.1:8002"}


def test_credentials_go_in_the_header_never_in_meta() -> None:
    ours, stock = middlewares([AUTH])
    request = Request("http://site/")
    send(ours, stock, request)
    assert request.meta["proxy"] == "http://127.0.0.1:8001"
    assert "hunter2" not in repr(request.meta)
    expected = b"Basic " + base64.b64encode(b"bob:hunter2")
    assert request.headers["Proxy-Authorization"] == expected


def test_proxy_authorization_follows_the_request_to_another_proxy() -> None:
    ours, stock = middlewares([AUTH, PLAIN])
    request = Request("http://site/")
    while request.meta.get("proxy") != "http://127.0.0.1:8001":
        request = Request("http://site/")
        send(ours, stock, request)
    # The site bans the authenticated proxy: the request moves on to the plain one.
    request.meta["_ban"] = True
    retry = ours.process_response(request, HtmlResponse(request.url, status=403, body=b"no"))
    assert isinstance(retry, Request)
    send(ours, stock, retry)
    assert retry.meta["proxy"] == PLAIN  # the only one alive
    assert b"Proxy-Authorization" not in retry.headers
    assert ours.proxies.state_of(AUTH) == "dead" and ours.proxies.state_of(PLAIN) == "unchecked"


def test_site_throttling_keeps_the_proxy_alive() -> None:
    ours, stock = middlewares([PLAIN])
    request = Request("http://site/")
    send(ours, stock, request)
    request.meta["_ban"] = False  # what our ban policy says about a 503
    response = HtmlResponse(request.url, status=503, body=b"busy")
    assert ours.process_response(request, response) is response
    assert ours.proxies.state_of(PLAIN) == "good"


def test_pool_logs_mask_the_password(caplog: pytest.LogCaptureFixture) -> None:
    ours, _ = middlewares([AUTH])
    with caplog.at_level("DEBUG", logger="booksscraper.proxies.pool"):
        ours.proxies.mark_dead(AUTH)
        ours.proxies.mark_good(AUTH)
    assert "http://bob:***@127.0.0.1:8001" in caplog.text
    assert "hunter2" not in caplog.text
