"""The cluster queue holds JSON, never pickle: round trips, refusals, a real redis-server crawl."""

from __future__ import annotations

import json
import pickle
import time
from pathlib import Path

import pytest
import redis
from scrapy import Request, Spider
from scrapy.utils.request import request_from_dict

from booksscraper.cluster import serializer as cluster_json
from booksscraper.sandbox.testing import running_sandbox
from booksscraper.tools.cluster_run import start_worker, stop
from booksscraper.tools.redis_server import RedisServer
from booksscraper.tools.truth import differences
from tests.helpers import read_books


class BooksLike(Spider):
    name = "books"

    def parse_book(self, response):
        pass

    def request_failed(self, failure):
        pass


def test_a_request_round_trips_exactly() -> None:
    spider = BooksLike()
    request = Request(
        "http://127.0.0.1:8000/catalogue/a_1/index.html",
        callback=spider.parse_book,
        errback=spider.request_failed,
        method="POST",
        body=b"\x00\xff\x80 not utf-8",
        headers={"X-Bytes": b"\xe9t\xe9", "Accept": ["a", "b"]},
        priority=10,
        dont_filter=True,
        meta={
            "retry_times": 3,
            "not_before": 1700000000.25,
            "redirect_urls": ["http://127.0.0.1:8000/x"],
            "pair": (1, "two"),
            "by_number": {1: "one", (2, 3): b"raw"},
            "looks_like_a_tag": {"__bytes__": "not base64!"},
            "proxy": None,
        },
        cb_kwargs={"page": 2},
        flags=["retried"],
    )
    encoded = cluster_json.dumps(request.to_dict(spider=spider))
    assert isinstance(encoded, str) and json.loads(encoded)["url"] == request.url
    decoded = request_from_dict(cluster_json.loads(encoded.encode()), spider=spider)
    assert decoded.to_dict(spider=spider) == request.to_dict(spider=spider)
    assert decoded.body == request.body and decoded.meta["pair"] == (1, "two")
    assert decoded.meta["by_number"] == {1: "one", (2, 3): b"raw"}
    assert decoded.meta["looks_like_a_tag"] == {"__bytes__": "not base64!"}
    assert decoded.callback == spider.parse_book and decoded.errback == spider.request_failed


def test_meta_that_is_not_plain_data_is_refused_when_queued() -> None:
    request = Request("http://127.0.0.1/", meta={"seen": {1, 2}})
    with pytest.raises(TypeError, match="cannot queue a set in Redis as JSON"):
        cluster_json.dumps(request.to_dict())


class _Trap:
    """Unpickling this writes a file: proof that code ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path(self.path).write_text, ("pwned",))


def test_a_pickle_planted_in_redis_is_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    planted = pickle.dumps({"url": "http://127.0.0.1/", "meta": _Trap(str(marker))})
    assert not marker.exists()
    with pytest.raises(ValueError, match="not a JSON request"):
        cluster_json.loads(planted)
    assert not marker.exists()
    with pytest.raises(ValueError):
        cluster_json.loads(b'["a list, not a request"]')


@pytest.mark.timeout(120)
def test_a_cluster_crawl_queues_json_and_gets_every_book(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    # Latency and 2 requests at a time keep requests waiting in the queue long enough to look.
    with running_sandbox(books=60, seed=7, latency_ms=40) as sb:
        worker = start_worker(
            redis_server.url, sb.base_url, tmp_path / "w",
            "-s", "CONCURRENT_REQUESTS=2", "-s", "CLUSTER_IDLE_BEFORE_CLOSE=1",
        )
        queued: list[bytes] = []
        try:
            deadline = time.monotonic() + 60
            while worker.poll() is None and time.monotonic() < deadline:
                queued += client.zrange("books:requests", 0, -1)
                leased = client.hgetall("books:requests:leased")
                queued += [v for k, v in leased.items() if not k.endswith((b":score", b":worker"))]
                time.sleep(0.1)
            assert worker.wait(60) == 0
        finally:
            stop(worker)
        truth = sb.truth()
    client.close()
    assert differences(read_books(tmp_path / "w"), truth) == []
    assert len(queued) > 20, "saw too little of the queue to judge it"
    for data in queued:
        assert not data.startswith(b"\x80"), "a pickle in the Redis queue"
        assert json.loads(data)["url"].startswith(sb.base_url)
