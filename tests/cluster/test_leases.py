"""Lease logic of the cluster queue against a real redis-server."""

from __future__ import annotations

import time

import pytest
import redis
from scrapy import Request

from booksscraper.cluster.leases import LeasedPriorityQueue
from booksscraper.spiders.books import BooksSpider

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def queue(redis_client: redis.Redis) -> LeasedPriorityQueue:
    spider = BooksSpider(start_url="http://127.0.0.1:1/")
    return LeasedPriorityQueue(redis_client, spider, "%(spider)s:requests")


def test_pop_leases_the_request_instead_of_removing_it(queue: LeasedPriorityQueue) -> None:
    queue.push(Request("http://127.0.0.1:1/a", callback=queue.spider.parse_book))
    _, request = queue.pop_leased(lease_seconds=30)
    assert request.url == "http://127.0.0.1:1/a"
    assert request.callback == queue.spider.parse_book
    assert len(queue) == 0
    assert queue.leased_count() == 1
    assert queue.pop_leased(lease_seconds=30) is None


def test_pop_follows_priority_and_gives_distinct_lease_ids(queue: LeasedPriorityQueue) -> None:
    queue.push(Request("http://127.0.0.1:1/low", priority=0))
    queue.push(Request("http://127.0.0.1:1/high", priority=10))
    first, second = queue.pop_leased(30), queue.pop_leased(30)
    assert [first[1].url, second[1].url] == ["http://127.0.0.1:1/high", "http://127.0.0.1:1/low"]
    assert first[0] != second[0]


def test_ack_forgets_the_lease(queue: LeasedPriorityQueue) -> None:
    queue.push(Request("http://127.0.0.1:1/a"))
    lease_id, _ = queue.pop_leased(lease_seconds=0.2)
    assert queue.ack([lease_id]) == 1
    assert queue.leased_count() == 0
    time.sleep(0.3)
    assert queue.requeue_expired() == 0  # an acknowledged request never comes back
    assert len(queue) == 0
    assert queue.ack([lease_id]) == 0  # acknowledging twice is harmless and reported


def test_expired_lease_goes_back_to_the_queue_with_its_priority(
    queue: LeasedPriorityQueue,
) -> None:
    queue.push(Request("http://127.0.0.1:1/a", priority=5, meta={"k": 1}))
    queue.push(Request("http://127.0.0.1:1/b", priority=1))
    lease_id, _ = queue.pop_leased(lease_seconds=0.2)
    assert queue.requeue_expired() == 0  # not expired yet
    time.sleep(0.3)
    assert queue.requeue_expired() == 1
    assert queue.leased_count() == 0
    assert len(queue) == 2
    new_lease, request = queue.pop_leased(lease_seconds=30)
    assert (request.url, request.priority, request.meta["k"]) == ("http://127.0.0.1:1/a", 5, 1)
    assert new_lease != lease_id
    # The old holder's late acknowledgement does not touch the new lease.
    assert queue.ack([lease_id]) == 0
    assert queue.leased_count() == 1


def test_renewed_lease_does_not_expire(queue: LeasedPriorityQueue) -> None:
    queue.push(Request("http://127.0.0.1:1/a"))
    lease_id, _ = queue.pop_leased(lease_seconds=0.3)
    time.sleep(0.15)
    assert queue.renew([lease_id], lease_seconds=30) == 0
    time.sleep(0.3)
    assert queue.requeue_expired() == 0
    assert queue.leased_count() == 1


def test_renewing_a_lease_that_expired_reports_it_lost(queue: LeasedPriorityQueue) -> None:
    queue.push(Request("http://127.0.0.1:1/a"))
    lease_id, _ = queue.pop_leased(lease_seconds=0.1)
    time.sleep(0.2)
    assert queue.requeue_expired() == 1  # another worker's heartbeat got there first
    assert queue.renew([lease_id], lease_seconds=30) == 1
    assert queue.leased_count() == 0  # renewing did not resurrect it
    assert len(queue) == 1


def test_release_gives_requests_back_at_once(queue: LeasedPriorityQueue) -> None:
    queue.push(Request("http://127.0.0.1:1/a"))
    lease_id, _ = queue.pop_leased(lease_seconds=30)
    assert queue.release([lease_id]) == 1
    assert (len(queue), queue.leased_count()) == (1, 0)
    assert queue.pop_leased(30)[1].url == "http://127.0.0.1:1/a"


def test_plain_pop_is_refused(queue: LeasedPriorityQueue) -> None:
    with pytest.raises(TypeError):
        queue.pop()


def test_leases_of_a_worker_whose_heartbeat_stops_go_back(queue: LeasedPriorityQueue) -> None:
    for name in ("a", "b", "c"):
        queue.push(Request(f"http://127.0.0.1:1/{name}"))
    queue.beat("dead", timeout=0.3)
    queue.beat("alive", timeout=30)
    queue.pop_leased(lease_seconds=60, worker="dead")
    queue.pop_leased(lease_seconds=60, worker="dead")
    queue.pop_leased(lease_seconds=60, worker="alive")
    assert queue.requeue_dead() == (0, [])  # both still beating
    assert queue.leases_by_worker() == {"dead": 2, "alive": 1}
    time.sleep(0.5)  # "dead" stopped beating; its 60 s leases have not expired
    assert queue.requeue_dead() == (2, ["dead"])
    assert len(queue) == 2 and queue.leased_count() == 1
    assert queue.requeue_dead() == (0, [])  # once
