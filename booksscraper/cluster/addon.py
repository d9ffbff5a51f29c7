"""The cluster switch: a Redis (``booksscraper.cluster.mode``) turns a worker into a cluster worker.

Run by the BooksStack add-on. With ``REDIS_URL`` set (or taken from the environment:
it is then set here, at add-on priority, for scrapy-redis) it selects the leased
scrapy-redis scheduler (``booksscraper.cluster.scheduler``), scrapy-redis's
Redis dupefilter and a persistent queue; the site pacer
(``booksscraper/pacing/pacer.py``) then keeps its schedules in Redis and applies
``CLUSTER_MAX_RPS_PER_DOMAIN`` and ``CLUSTER_MAX_CONCURRENCY_PER_DOMAIN``.
Without ``REDIS_URL`` it changes nothing (and either limit is an error: it
would do nothing; with ``CLUSTER_REQUIRED``, a missing Redis is an error, not a
standalone crawl). Settings
given on the command line or in the project still win (add-on priority).
"""

from __future__ import annotations

from scrapy.settings import BaseSettings
from scrapy.utils.misc import load_object

from booksscraper.cluster.mode import is_cluster, redis_url
from booksscraper.config.errors import BadConfig
from booksscraper.config.readers import boolean

PREFLIGHT = "booksscraper.cluster.preflight.ClusterPreflight"


class ClusterAddon:
    def update_settings(self, settings: BaseSettings) -> None:
        if not is_cluster(settings):
            if boolean(settings, "CLUSTER_REQUIRED"):
                raise BadConfig("REDIS_URL: empty, and this worker must join a cluster"
                                " (CLUSTER_REQUIRED): set $BOOKS_REDIS_URL or"
                                " $BOOKS_REDIS_URL_FILE")
            for name in ("CLUSTER_MAX_RPS_PER_DOMAIN", "CLUSTER_MAX_CONCURRENCY_PER_DOMAIN"):
                if _is_set(settings.get(name)):
                    # A limit that silently does nothing is worse than an error.
                    raise BadConfig(f"{name}: needs REDIS_URL (the shared Redis)")
            return
        if not settings.get("REDIS_URL") and redis_url(settings):
            settings.set("REDIS_URL", redis_url(settings), "addon")  # from the environment
        settings.set("SCHEDULER", "booksscraper.cluster.scheduler.ClusterScheduler", "addon")
        settings.set("DUPEFILTER_CLASS", "scrapy_redis.dupefilter.RFPDupeFilter", "addon")
        settings.set("SCHEDULER_PERSIST", True, "addon")
        # Built before the crawl opens: bad settings or no Redis are a one-line error.
        settings.setdefault_in_component_priority_dict("EXTENSIONS", load_object(PREFLIGHT), 1)


def _is_set(value: object) -> bool:
    """A limit given and not 0 (an unparsable value counts: its middleware says why)."""
    if value in (None, ""):
        return False
    try:
        return float(value) != 0  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True
