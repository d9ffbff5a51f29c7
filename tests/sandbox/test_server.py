"""The HTTP server over real sockets: framing, keep-alive, proxies, control endpoints."""

from __future__ import annotations

import json

import pytest

from booksscraper.sandbox import Catalogue
from booksscraper.sandbox.testing import RunningSandbox, SandboxError

from .conftest import DEFAULTS
from .net import get, raw, request_bytes, split_responses

pytestmark = pytest.mark.timeout(60)


def test_pages_and_headers(sb: RunningSandbox) -> None:
    assert sb.base_url.startswith("http://127.0.0.1:") and sb.base_url.endswith("/")
    for path in ("", "index.html", "catalogue/page-2.html", "catalogue/page-50.html",
                 "catalogue/category/books_1/index.html",
                 "catalogue/category/books/default_15/page-2.html"):
        ans = get(sb.base_url, path)
        assert ans.status == 200, path
        assert ans.headers["content-type"] == "text/html"  # no charset, like the real site
        assert b'<meta http-equiv="content-type" content="text/html; charset=UTF-8" />' in ans.body
        assert int(ans.headers["content-length"]) == len(ans.body)
    assert get(sb.base_url, "catalogue/page-51.html").status == 404
    assert get(sb.base_url, "robots.txt").status == 404


def test_scrapy_reads_utf8_from_the_meta_tag(sb: RunningSandbox) -> None:
    from scrapy.http import HtmlResponse

    ans = get(sb.base_url, "")
    response = HtmlResponse(sb.base_url, body=ans.body,
                            headers={"Content-Type": ans.headers["content-type"]})
    assert response.encoding == "utf-8"
    assert response.css("p.price_color::text").get().startswith("£")
    assert "Â£" in ans.body.decode("latin-1")  # what a client ignoring the meta tag would see


def test_truth_endpoint_matches_catalogue(sb: RunningSandbox) -> None:
    truth = sb.truth()
    local = Catalogue(1000, seed=7)
    assert [t["book_id"] for t in truth] == list(range(1, 1001))
    assert truth == [local.truth(i, sb.base_url) for i in range(1, 1001)]
    assert set(truth[0]) == {
        "url", "book_id", "upc", "title", "price", "currency", "price_excl_tax", "price_incl_tax",
        "tax", "availability", "in_stock", "rating", "category", "description", "description_raw",
        "image_url", "review_count"}
    page = get(sb.base_url, truth[99]["url"][len(sb.base_url):])
    assert page.status == 200 and truth[99]["upc"].encode() in page.body
    image = get(sb.base_url, truth[99]["image_url"][len(sb.base_url):])
    assert image.status == 200 and image.body.startswith(b"\xff\xd8")


def test_pipelined_and_partial_requests(sb: RunningSandbox) -> None:
    data = (request_bytes("/catalogue/page-2.html") + request_bytes("/nope")
            + request_bytes("/", extra="Connection: close\r\n"))
    answers = split_responses(raw(sb.base_url, data))
    assert [status for status, _ in answers] == [200, 404, 200]
    assert b"Page 2 of 50" in answers[0][1] and b"Page 1 of 50" in answers[2][1]


def test_request_split_across_many_writes(sb: RunningSandbox) -> None:
    import socket

    from .net import address

    sock = socket.create_connection(address(sb.base_url), timeout=5)
    try:
        for byte in request_bytes("/catalogue/page-3.html", extra="Connection: close\r\n"):
            sock.sendall(bytes([byte]))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    finally:
        sock.close()
    assert split_responses(data)[0][0] == 200 and b"Page 3 of 50" in data


def test_absolute_form_target_from_a_proxy(sb: RunningSandbox) -> None:
    target = sb.base_url + "catalogue/page-4.html"
    data = raw(sb.base_url, request_bytes(target, extra="Connection: close\r\n"))
    status, body = split_responses(data)[0]
    assert status == 200 and b"Page 4 of 50" in body


def test_head_and_bad_methods(sb: RunningSandbox) -> None:
    head = raw(sb.base_url, request_bytes("/", method="HEAD", extra="Connection: close\r\n"))
    assert head.startswith(b"HTTP/1.1 200") and head.endswith(b"\r\n\r\n")
    assert get(sb.base_url, "", method="POST", body=b"x").status == 405
    assert raw(sb.base_url, b"NONSENSE\r\n\r\n").startswith(b"HTTP/1.1 400")


def test_http10_closes(sb: RunningSandbox) -> None:
    data = raw(sb.base_url, b"GET / HTTP/1.0\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200") and b"Connection: close" in data


def test_http10_keep_alive(sb: RunningSandbox) -> None:
    req = b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    data = raw(sb.base_url, req * 2, timeout=1)
    answers = split_responses(data)
    assert [a[0] for a in answers] == [200, 200]
    assert data.count(b"Connection: keep-alive") == 2


def test_stats_and_reset(sb: RunningSandbox) -> None:
    ua = {"User-Agent": "stats-test/1"}
    for path in ("", "catalogue/page-2.html", "catalogue/page-99.html"):
        get(sb.base_url, path, headers=ua)
    get(sb.base_url, "catalogue/page-2.html", source="127.0.0.2", headers=ua)
    stats = sb.stats()
    assert stats["requests_total"] == 4
    assert stats["by_status"] == {"200": 3, "404": 1}
    assert stats["by_kind"] == {"home": 1, "listing": 3}
    assert stats["by_user_agent"] == {"stats-test/1": 4}
    assert stats["by_ip"]["127.0.0.1"]["count"] == 3 and stats["by_ip"]["127.0.0.2"]["count"] == 1
    assert stats["by_ip"]["127.0.0.1"]["peak_rps"] >= 1
    assert stats["in_flight"] == 0 and stats["peak_in_flight"] >= 1
    assert sum(stats["latency_histogram"].values()) == 4
    assert stats["peak_rps"] >= 1 and stats["faults"] == {}
    sb.reset()
    stats = sb.stats()
    assert stats["requests_total"] == 0 and stats["by_ip"] == {}  # control calls are not counted


def test_config_endpoint(sb: RunningSandbox) -> None:
    assert {k: sb.config()[k] for k in DEFAULTS} == DEFAULTS
    assert sb.configure(latency_ms=5, ban_response=200)["latency_ms"] == 5.0
    assert sb.config()["ban_response"] == "200"
    before = sb.config()
    bad_bodies = [b"{not json", b"[1, 2]", b'{"nope": 1}', b'{"fault_500": 1.5}',
                  b'{"fault_500": -0.1}', b'{"fault_500": 0.6, "fault_503": 0.6}',
                  b'{"books": 5}', b'{"retry_after_format": "weekly"}', b'{"workers": 1.5}',
                  b'{"banned_ips": ["not-an-ip"]}', b'{"block_default_ua": "yes"}']
    for body in bad_bodies:
        ans = get(sb.base_url, "__config", method="POST", body=body)
        assert ans.status == 400, body
        assert ans.body.strip(), body  # the reason is in the body
    assert sb.config() == before
    with pytest.raises(SandboxError, match="between 0 and 1"):
        sb.configure(fault_502=2)


def test_control_endpoints_are_never_faulted(sb: RunningSandbox) -> None:
    sb.configure(fault_500=1.0, rate_limit=0.001, rate_burst=1)
    assert get(sb.base_url, "").status == 500  # uses the bucket's one token
    assert get(sb.base_url, "").status == 429  # the rate limit is checked before faults
    for _ in range(5):
        assert json.loads(get(sb.base_url, "__stats").body)["requests_total"] == 2
    assert len(sb.truth()) == 1000
