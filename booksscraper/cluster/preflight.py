"""Checks a cluster worker's settings and its Redis before the crawl opens.

The scheduler is built only when the spider opens, too late for a clean
one-line error; extensions are built first. Added by the cluster add-on
(``REDIS_URL`` set): bad cluster settings or an unreachable Redis stop the
crawl with ``BadConfig`` (exit 2) before anything starts.
"""

from __future__ import annotations

from scrapy.crawler import Crawler
from scrapy_redis.connection import get_redis_from_settings

from booksscraper.cluster.scheduler import ClusterScheduler
from booksscraper.errors import BadConfig


class ClusterPreflight:
    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ClusterPreflight:
        ClusterScheduler.check_settings(crawler.settings)
        server = get_redis_from_settings(crawler.settings)
        try:
            server.ping()
        except Exception as exc:
            raise BadConfig(f"REDIS_URL: cannot reach Redis: {exc}") from None
        finally:
            server.close()
        return cls()
