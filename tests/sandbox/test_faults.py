"""Each fault mode, observed by real clients over real sockets."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from email.utils import parsedate_to_datetime

import pytest
import requests
from parsel import Selector

from booksscraper.sandbox.testing import RunningSandbox

from .net import address, get, request_bytes

pytestmark = pytest.mark.timeout(60)


def book_path(sb: RunningSandbox, book_id: int = 10) -> str:
    return sb.truth()[book_id - 1]["url"][len(sb.base_url):]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors(sb: RunningSandbox, status: int) -> None:
    sb.configure(**{f"fault_{status}": 1.0})
    assert get(sb.base_url, "catalogue/page-2.html").status == status
    assert sb.stats()["faults"] == {str(status): 1}
    sb.configure(**{f"fault_{status}": 0.0})
    assert get(sb.base_url, "catalogue/page-2.html").status == 200


def test_rates_are_seeded_and_reproducible(sb: RunningSandbox) -> None:
    def run() -> list[int]:
        sb.reset()
        return [get(sb.base_url, "catalogue/page-3.html").status for _ in range(100)]

    sb.configure(fault_500=0.2, fault_503=0.1)
    first, second = run(), run()
    assert first == second
    assert 10 <= first.count(500) <= 35 and 3 <= first.count(503) <= 20
    assert first.count(200) == 100 - first.count(500) - first.count(503)


def test_429_retry_after_seconds(sb: RunningSandbox) -> None:
    sb.configure(fault_429=1.0, retry_after=7)
    ans = get(sb.base_url, "")
    assert ans.status == 429 and ans.headers["retry-after"] == "7"


def test_429_retry_after_http_date(sb: RunningSandbox) -> None:
    sb.configure(fault_429=1.0, retry_after=30, retry_after_format="date")
    ans = get(sb.base_url, "")
    assert ans.status == 429
    when = parsedate_to_datetime(ans.headers["retry-after"])
    assert 20 <= when.timestamp() - time.time() <= 40


def test_connection_reset(sb: RunningSandbox) -> None:
    sb.configure(fault_reset=1.0)
    sock = socket.create_connection(address(sb.base_url), timeout=5)
    try:
        sock.sendall(request_bytes("/"))
        with pytest.raises(ConnectionResetError):
            sock.recv(65536)
    finally:
        sock.close()
    with pytest.raises(requests.ConnectionError):
        requests.get(sb.base_url, timeout=5)
    assert sb.stats()["faults"] == {"reset": 2}


@pytest.mark.timeout(20)
def test_hang_until_client_timeout(sb: RunningSandbox) -> None:
    sb.configure(fault_hang=1.0, fault_kinds=["book"])
    path = book_path(sb)
    start = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        requests.get(sb.base_url + path, timeout=1.0)
    assert time.monotonic() - start < 10
    assert get(sb.base_url, "").status == 200  # other pages and connections still served
    stats = sb.stats()
    assert stats["faults"] == {"hang": 1}


def test_truncated_body(sb: RunningSandbox) -> None:
    sb.configure(fault_truncate=1.0)
    conn = http.client.HTTPConnection(*address(sb.base_url), timeout=5)
    conn.request("GET", "/catalogue/page-2.html")
    resp = conn.getresponse()
    assert resp.status == 200
    with pytest.raises(http.client.IncompleteRead) as info:
        resp.read()
    conn.close()
    promised = int(resp.getheader("Content-Length"))
    assert 0 < len(info.value.partial) < promised
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(sb.base_url, timeout=5)


def test_slow_drip(sb: RunningSandbox) -> None:
    sb.configure(fault_drip=1.0, drip_chunk=1000, drip_interval_ms=20)
    sock = socket.create_connection(address(sb.base_url), timeout=5)
    reads = []
    start = time.monotonic()
    try:
        sock.sendall(request_bytes("/" + book_path(sb), extra="Connection: close\r\n"))
        while chunk := sock.recv(65536):
            reads.append(chunk)
    finally:
        sock.close()
    data = b"".join(reads)
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"200 OK" in head
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))
    assert len(body) == length > 5000  # complete, but ...
    # ... sent in 1000-byte pieces with 20 ms pauses: a lower bound on the time, which load
    # cannot break (reads may coalesce on a busy machine, so their count is only checked loosely)
    assert time.monotonic() - start >= 0.9 * 0.02 * (length // 1000)
    assert len(reads) >= 3
    assert sb.stats()["faults"] == {"drip": 1}


def test_malformed_variants(sb: RunningSandbox) -> None:
    path = book_path(sb)
    sb.configure(fault_no_price=1.0)
    page = Selector(get(sb.base_url, path).body.decode())
    assert page.css("h1::text").get() and page.css("p.price_color").get() is None
    home = Selector(get(sb.base_url, "").body.decode())  # listings have no such variant
    assert len(home.css("article.product_pod p.price_color")) == 20
    sb.configure(fault_no_price=0.0, fault_bad_rating=1.0)
    page = Selector(get(sb.base_url, path).body.decode())
    assert page.css("p.star-rating::attr(class)").get().split()[1] not in (
        "One", "Two", "Three", "Four", "Five")
    sb.configure(fault_bad_rating=0.0, fault_empty=1.0)
    ans = get(sb.base_url, path)
    assert ans.status == 200 and ans.body == b"" and ans.headers["content-length"] == "0"
    assert sb.stats()["faults"] == {"no_price": 1, "bad_rating": 1, "empty": 1}


def test_fault_kinds_limit_faults(sb: RunningSandbox) -> None:
    sb.configure(fault_503=1.0, fault_kinds=["book"])
    assert get(sb.base_url, "").status == 200
    assert get(sb.base_url, "catalogue/page-2.html").status == 200
    assert get(sb.base_url, book_path(sb)).status == 503
    assert get(sb.base_url, "catalogue/nope_1/index.html").status == 404  # no fault on a 404


def test_latency(sb: RunningSandbox) -> None:
    sb.configure(latency_ms=300)
    start = time.monotonic()
    assert get(sb.base_url, "").status == 200
    assert time.monotonic() - start >= 0.29  # a lower bound: it cannot be faster
    hist = sb.stats()["latency_histogram"]
    assert sum(hist.values()) == 1
    assert sum(hist[k] for k in ("<1ms", "<2ms", "<5ms", "<10ms", "<20ms", "<50ms", "<100ms",
                                 "<200ms")) == 0


@pytest.mark.timeout(20)
def test_client_leaving_mid_wait_is_counted(sb: RunningSandbox) -> None:
    sb.configure(latency_ms=600)
    with pytest.raises(requests.ReadTimeout):
        requests.get(sb.base_url, timeout=0.2)
    deadline = time.monotonic() + 5
    while sb.stats()["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.05)
    stats = sb.stats()
    assert stats["in_flight"] == 0 and stats["by_status"] == {"0": 1}


@pytest.mark.timeout(20)
def test_reset_while_requests_are_in_flight(sb: RunningSandbox) -> None:
    sb.configure(latency_ms=1500)
    thread = threading.Thread(target=get, args=(sb.base_url, ""))
    thread.start()
    deadline = time.monotonic() + 1.2
    while sb.stats()["in_flight"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sb.stats()["in_flight"] == 1
    sb.reset()
    thread.join()
    stats = sb.stats()
    assert stats["in_flight"] == 0 and stats["by_status"] == {"200": 1}


def test_capacity_queues_beyond_workers(sb: RunningSandbox) -> None:
    sb.configure(workers=2, service_ms=200)
    statuses: list[int] = []

    barrier = threading.Barrier(6)

    def one() -> None:
        barrier.wait()
        statuses.append(get(sb.base_url, "catalogue/page-2.html").status)

    start = time.monotonic()
    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    assert statuses == [200] * 6
    assert elapsed >= 0.58  # 6 requests through 2 slots of 200 ms: three rounds at least
    stats = sb.stats()
    assert stats["peak_in_flight"] >= 3  # requests were waiting for a slot
    fast = ("<1ms", "<2ms", "<5ms", "<10ms", "<20ms", "<50ms", "<100ms", "<200ms")
    assert sum(stats["latency_histogram"][k] for k in fast) == 0  # each held 200 ms at least
