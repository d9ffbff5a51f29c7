"""Which crawl a worker joined: a crawl id and started/finished markers in Redis.

``<queue>:crawl`` (hash): ``id``, ``started`` and, once a worker closed "finished",
``finished``. The first worker on empty keys creates it; the others join it. A worker that
finds it gone or changed knows its crawl vanished (Redis restarted empty, keys deleted): an
empty queue is then not the end of the crawl, and the worker stops instead of finishing.
"""

from __future__ import annotations

import uuid

from redis import Redis


def crawl_key(queue_key: str) -> str:
    return f"{queue_key}:crawl"


def join_crawl(server: Redis, queue_key: str) -> tuple[str, bool]:
    """(crawl id, whether this worker started it): the crawl on these keys, created if none."""
    key = crawl_key(queue_key)
    seconds, _ = server.time()
    pipe = server.pipeline()
    pipe.hsetnx(key, "id", uuid.uuid4().hex[:12])
    pipe.hsetnx(key, "started", seconds)
    pipe.hget(key, "id")
    created, _, crawl_id = pipe.execute()
    return crawl_id.decode(), bool(created)


def current_crawl(server: Redis, queue_key: str) -> str | None:
    """The id of the crawl on these keys now, None when its markers are gone."""
    crawl_id = server.hget(crawl_key(queue_key), "id")
    return crawl_id.decode() if crawl_id else None


def mark_finished(server: Redis, queue_key: str) -> None:
    seconds, _ = server.time()
    server.hset(crawl_key(queue_key), "finished", seconds)
