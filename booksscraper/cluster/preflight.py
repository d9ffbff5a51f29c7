"""Checks a cluster worker's settings and its Redis before the crawl opens.

The scheduler is built only when the spider opens, too late for a clean
one-line error; extensions are built first. Added by the cluster add-on
(``REDIS_URL`` set): bad cluster settings, an unreachable Redis, or keys of a
crawl that has already finished (nothing queued, nothing leased, requests
seen: a second run would exit 0 with 0 items) stop the crawl with
``BadConfig`` (exit 2) before anything starts.
"""

from __future__ import annotations

from redis import Redis
from scrapy.crawler import Crawler
from scrapy_redis import defaults
from scrapy_redis.connection import get_redis_from_settings

from booksscraper.cluster.leases import LeasedPriorityQueue
from booksscraper.cluster.scheduler import ClusterScheduler
from booksscraper.config.errors import BadConfig


class ClusterPreflight:
    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ClusterPreflight:
        ClusterScheduler.check_settings(crawler.settings)
        server = get_redis_from_settings(crawler.settings)
        try:
            server.ping()
            check_not_finished(crawler, server)
        except BadConfig:
            raise
        except Exception as exc:
            raise BadConfig(f"REDIS_URL: cannot reach Redis: {exc}") from None
        finally:
            server.close()
        return cls()


def check_not_finished(crawler: Crawler, server: Redis) -> None:
    """BadConfig when these keys hold a finished crawl: a new crawl needs new (or no) keys."""
    s = crawler.settings
    spider = {"spider": getattr(crawler.spidercls, "name", "")}
    queue_key = s.get("SCHEDULER_QUEUE_KEY", defaults.SCHEDULER_QUEUE_KEY) % spider
    seen_key = s.get("SCHEDULER_DUPEFILTER_KEY", defaults.SCHEDULER_DUPEFILTER_KEY) % spider
    seen = LeasedPriorityQueue.finished(server, queue_key, seen_key)
    if not seen:
        return
    pattern = f"{spider['spider']}:*"
    raise BadConfig(
        f"REDIS_URL: the crawl with keys {queue_key} and {seen_key} has finished"
        f" ({seen} requests seen); delete them to crawl again"
        f" (redis-cli --scan --pattern '{pattern}' | xargs redis-cli del)"
        " or set SCHEDULER_QUEUE_KEY/SCHEDULER_DUPEFILTER_KEY to start a new one"
    )
