"""scrapy-redis scheduler with leased requests and a cluster-wide end of crawl.

Each request a worker takes from Redis is leased (``leases.py``) and acknowledged once
nothing of the worker refers to it any more: the request (or the retry or redirect that
replaced it) has left the engine, its new requests are in Redis and its items through the
pipelines. Scrapy has no signal for "this request is completely handled", so the engine's
in-progress set is read (``compat.requests_in_progress``, checked when the crawl opens). A
retry waiting out its backoff carries its lease in ``meta``: ``kill -9`` during a backoff
loses nothing; a graceful stop gives waiting retries back to the queue at once.

Each worker beats a heartbeat in Redis from a thread of its own; a worker that stops
beating for ``CLUSTER_HEARTBEAT_TIMEOUT`` seconds is dead, and any worker's poll puts its
leased requests back in the queue (the lease expiry stays as the backstop for a worker
alive but hung). A worker closes only after the queue and every worker's leases were empty
for ``CLUSTER_IDLE_BEFORE_CLOSE`` seconds. docs/cluster.md has the design.

Settings; the cluster add-on sets SCHEDULER,
DUPEFILTER_CLASS and SCHEDULER_PERSIST when ``REDIS_URL`` is set:

- ``REDIS_URL``: the Redis server, e.g. ``redis://host:6379/0``.
- ``SCHEDULER_QUEUE_KEY``, ``SCHEDULER_DUPEFILTER_KEY``: as in scrapy-redis.
- ``SCHEDULER_PERSIST``: keep queue and fingerprints when a worker closes.
- ``SCHEDULER_SERIALIZER``: requests are stored in
  Redis as JSON (scrapy-redis's default is pickle).
- ``CLUSTER_HEARTBEAT_TIMEOUT``: seconds without a heartbeat after which a
  worker counts as dead and its leased requests go back to the queue.
- ``CLUSTER_LEASE_SECONDS``: lease length, the backstop for a hung worker;
  renewed every third of it while the request is in progress, so it does not
  bound how long a download may take.
- ``CLUSTER_POLL_INTERVAL``: seconds between checks of Redis.
- ``CLUSTER_IDLE_BEFORE_CLOSE``: seconds the cluster must have no work before a worker closes.

Stats: ``cluster/leases/taken``, ``cluster/leases/acked``,
``cluster/leases/renewed``, ``cluster/leases/lost``, ``cluster/leases/released``,
``cluster/leases/requeued_expired``, ``cluster/leases/requeued_dead``,
``cluster/workers_dead``, ``cluster/enqueued``, ``cluster/duplicates``, and the gauges
``cluster/queue/queued`` and ``cluster/queue/leased`` (the whole cluster's, from Redis).
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
import uuid
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.settings import BaseSettings
from scrapy.utils.asyncio import create_looping_call
from scrapy.utils.misc import load_object
from scrapy_redis import connection
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler

from booksscraper.cluster.leases import LeasedPriorityQueue
from booksscraper.compat import check_engine, requests_in_progress, wake_engine
from booksscraper.config.declared import default
from booksscraper.config.errors import BadConfig
from booksscraper.config.readers import boolean, number, text
from booksscraper.pacing.holder import DelayedRequests

logger = logging.getLogger(__name__)

LEASE_META = "cluster_lease"


class ClusterScheduler(Scheduler):
    queue: LeasedPriorityQueue

    @staticmethod
    def check_settings(s: BaseSettings) -> dict[str, Any]:
        """The cluster settings, checked; BadConfig names a bad one."""
        if not s.get("REDIS_URL") and not s.get("REDIS_HOST"):
            raise BadConfig("REDIS_URL: the cluster scheduler needs a Redis server URL")
        dupefilter_cls = load_object(s.get("DUPEFILTER_CLASS"))
        if not (isinstance(dupefilter_cls, type) and issubclass(dupefilter_cls, RFPDupeFilter)):
            raise BadConfig(
                "DUPEFILTER_CLASS: the cluster needs scrapy_redis.dupefilter.RFPDupeFilter"
                f" or a subclass, got {s.get('DUPEFILTER_CLASS')!r}"
            )
        for name in ("SCHEDULER_QUEUE_KEY", "SCHEDULER_DUPEFILTER_KEY"):
            try:
                text(s, name) % {"spider": "books"}
            except (KeyError, TypeError, ValueError):
                raise BadConfig(
                    f"{name}: only %(spider)s may be used, got {s.get(name)!r}"
                ) from None
        return {
            "dupefilter_cls": dupefilter_cls,
            "lease_seconds": number(s, "CLUSTER_LEASE_SECONDS", minimum=1.0),
            "heartbeat_timeout": number(s, "CLUSTER_HEARTBEAT_TIMEOUT", minimum=0.5),
            "poll_interval": number(s, "CLUSTER_POLL_INTERVAL", minimum=0.05),
            "idle_before_close": number(s, "CLUSTER_IDLE_BEFORE_CLOSE"),
        }

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ClusterScheduler:
        s = crawler.settings
        checked = cls.check_settings(s)
        # JSON, not scrapy-redis's default pickle: whoever can write to Redis must not be
        # able to run code in the workers (booksscraper/cluster/serializer.py); empty too.
        serializer = text(s, "SCHEDULER_SERIALIZER") or default("SCHEDULER_SERIALIZER")
        scheduler = cls(
            server=connection.get_redis_from_settings(s),
            persist=boolean(s, "SCHEDULER_PERSIST"),
            queue_key=text(s, "SCHEDULER_QUEUE_KEY"),
            dupefilter_key=text(s, "SCHEDULER_DUPEFILTER_KEY"),
            dupefilter_cls=checked["dupefilter_cls"],
            serializer=importlib.import_module(serializer),
        )
        scheduler.crawler = crawler
        scheduler.stats = crawler.stats
        scheduler.lease_seconds = checked["lease_seconds"]
        scheduler.heartbeat_timeout = checked["heartbeat_timeout"]
        scheduler.worker_id = uuid.uuid4().hex[:12]
        scheduler.beating = threading.Event()
        scheduler.poll_interval = checked["poll_interval"]
        scheduler.idle_before_close = checked["idle_before_close"]
        scheduler.ticker = None
        scheduler.held = {}
        return scheduler

    def open(self, spider: Spider) -> None:
        self.spider = spider
        try:
            self.server.ping()
        except Exception as exc:
            raise BadConfig(f"REDIS_URL: cannot reach Redis: {exc}") from None
        self.queue = LeasedPriorityQueue(
            self.server, spider, self.queue_key % {"spider": spider.name}, self.serializer
        )
        self.df = self.dupefilter_cls(
            self.server,
            key=self.dupefilter_key % {"spider": spider.name},
            debug=self.crawler.settings.getbool("DUPEFILTER_DEBUG"),
        )
        # lease id -> the request we took, while we work on it
        self.held: dict[str, Request] = {}
        self.last_renewal = time.monotonic()
        self.idle_since: float | None = None
        self.told_waiting = False
        # Alive before the first lease names us; then from a thread, so that a busy reactor
        # does not pass for a dead worker.
        self.queue.beat(self.worker_id, self.heartbeat_timeout)
        self.beating.set()
        threading.Thread(
            target=self._beat, name="cluster-heartbeat", daemon=True
        ).start()
        check_engine(self.crawler.engine)
        if len(self.queue) or self.queue.leased_count():
            logger.info(
                "Joining a crawl: %d requests queued, %d leased",
                len(self.queue),
                self.queue.leased_count(),
            )
        self.crawler.signals.connect(self._spider_idle, signal=signals.spider_idle)
        self.ticker = create_looping_call(self._tick)
        self.ticker.start(self.poll_interval, now=False)

    def _beat(self) -> None:
        warned = False
        while self.beating.is_set():
            time.sleep(self.heartbeat_timeout / 4)
            if not self.beating.is_set():
                return
            try:
                self.queue.beat(self.worker_id, self.heartbeat_timeout)
                warned = False
            except Exception as exc:  # Redis away for a moment: the lease expiry is the backstop
                if not warned:
                    logger.warning("cluster heartbeat failed: %s", exc)
                    warned = True

    def close(self, reason: str) -> None:
        if self.ticker is None:
            return  # never opened
        if self.ticker.running:
            self.ticker.stop()
        self.beating.clear()
        # Retries still waiting out their backoff go back to the queue (as first
        # leased: their retry count starts again); the rest is done.
        waiting = self._leases_of(self._delayed_requests()) & self.held.keys()
        self._ack([lease for lease in self.held if lease not in waiting])
        released = self.queue.release(waiting)
        self.held.clear()
        if released:
            self._forget_delayed(waiting)
            self.stats.inc_value("cluster/leases/released", released)
            logger.info("Gave %d waiting retries back to the cluster queue", released)
        try:
            self.queue.stop_beating(self.worker_id)
        except Exception:
            logger.warning("could not remove this worker's heartbeat; it expires by itself")
        if not self.persist:
            self.flush()

    def enqueue_request(self, request: Request) -> bool:
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            self.stats.inc_value("cluster/duplicates")
            return False
        self.queue.push(request)
        self.stats.inc_value("cluster/enqueued")
        return True

    def next_request(self) -> Request | None:
        popped = self.queue.pop_leased(self.lease_seconds, self.worker_id)
        if popped is None:
            return None
        lease_id, request = popped
        request.meta[LEASE_META] = lease_id
        self.held[lease_id] = request
        self.stats.inc_value("cluster/leases/taken")
        return request

    def has_pending_requests(self) -> bool:
        return len(self.queue) > 0

    # --- leases ---------------------------------------------------------

    def _delayed_requests(self) -> list[Request]:
        return list(DelayedRequests.for_crawler(self.crawler).waiting)

    def _forget_delayed(self, lease_ids: set[str]) -> None:
        """Take re-queued retries out of the backoff holder: not failures, not lost."""
        delayed = DelayedRequests.for_crawler(self.crawler)
        for request in [r for r in self._delayed_requests() if lease_of(r) in lease_ids]:
            delayed.forget(request)

    @staticmethod
    def _leases_of(requests: list[Request]) -> set[str]:
        return {lease_of(r) for r in requests if LEASE_META in r.meta}

    def _live_leases(self) -> set[str]:
        in_progress = requests_in_progress(self.crawler.engine)
        return self._leases_of(in_progress + self._delayed_requests())

    def _ack(self, lease_ids: list[str]) -> None:
        if not lease_ids:
            return
        still_held = self.queue.ack(lease_ids)
        for lease_id in lease_ids:
            self.held.pop(lease_id, None)
        self.stats.inc_value("cluster/leases/acked", len(lease_ids))
        if still_held < len(lease_ids):
            # Expired before we finished: another worker may do them again (merge dedups).
            self.stats.inc_value("cluster/leases/lost", len(lease_ids) - still_held)

    def _ack_finished(self) -> None:
        live = self._live_leases()
        self._ack([lease for lease in self.held if lease not in live])

    def _tick(self) -> None:
        try:
            self._ack_finished()
            if self.held and time.monotonic() - self.last_renewal >= self.lease_seconds / 3:
                lost = self.queue.renew(self.held, self.lease_seconds)
                self.last_renewal = time.monotonic()
                self.stats.inc_value("cluster/leases/renewed", len(self.held))
                if lost:
                    self.stats.inc_value("cluster/leases/lost", lost)
            dead_moved, dead = self.queue.requeue_dead()
            if dead:
                self.stats.inc_value("cluster/workers_dead", len(dead))
                self.stats.inc_value("cluster/leases/requeued_dead", dead_moved)
                logger.warning(
                    "Worker %s stopped its heartbeat (%gs): put its %d leased requests back"
                    " in the queue", ", ".join(dead), self.heartbeat_timeout, dead_moved,
                )
            # The cluster's totals for the progress line (extensions/progress.py).
            self.stats.set_value("cluster/queue/queued", len(self.queue))
            self.stats.set_value("cluster/queue/leased", self.queue.leased_count())
            requeued = self.queue.requeue_expired()
            if requeued:
                self.stats.inc_value("cluster/leases/requeued_expired", requeued)
                logger.warning("Put %d requests of expired leases back in the queue", requeued)
        except Exception:
            logger.exception("cluster heartbeat failed; trying again in %.1fs", self.poll_interval)
            return
        # Wake the engine: it pulls queued work or re-checks whether the crawl is over.
        wake_engine(self.crawler.engine)

    def _spider_idle(self) -> None:
        self._ack_finished()
        queued, leased = len(self.queue), self.queue.leased_count()
        if queued or leased:
            self.idle_since = None
            if queued:
                self.told_waiting = False
            elif not self.told_waiting:
                self._tell_waiting()
            raise DontCloseSpider
        self.told_waiting = False
        now = time.monotonic()
        if self.idle_since is None:
            self.idle_since = now
        if now - self.idle_since < self.idle_before_close:
            raise DontCloseSpider
        logger.info("Cluster queue and leases empty for %.1fs: closing", now - self.idle_since)


    def _tell_waiting(self) -> None:
        """Once per wait: what this idle worker waits for (whose leases, their heartbeats)."""
        owners = {w: n for w, n in self.queue.leases_by_worker().items() if w != self.worker_id}
        if not owners:
            return
        self.told_waiting = True
        parts = []
        for worker, count in sorted(owners.items()):
            ttl = self.server.pttl(self.queue.alive_prefix + worker)
            beat = (
                f"last heartbeat {self.heartbeat_timeout - ttl / 1000:.1f}s ago"
                if ttl and ttl > 0 else "heartbeat lost: its requests come back at the next poll"
            )
            parts.append(f"{count} of worker {worker} ({beat})")
        logger.info("Cluster queue empty: waiting for leased requests: %s", "; ".join(parts))


def lease_of(request: Request) -> str | None:
    return request.meta.get(LEASE_META)
