"""The cluster switch: setting ``REDIS_URL`` turns a worker into a cluster worker.

Run by the BooksStack add-on. With ``REDIS_URL`` set it selects the leased
scrapy-redis scheduler (``booksscraper.cluster.scheduler``), scrapy-redis's
Redis dupefilter and a persistent queue; the site pacer
(``booksscraper/pacing/pacer.py``) then keeps its schedules in Redis and applies
``CLUSTER_MAX_RPS_PER_DOMAIN`` and ``CLUSTER_MAX_CONCURRENCY_PER_DOMAIN``.
Without ``REDIS_URL`` it changes nothing (and either limit is an error: it
would do nothing). Settings
given on the command line or in the project still win (add-on priority).
"""

from __future__ import annotations

from scrapy.settings import BaseSettings
from scrapy.utils.misc import load_object

from booksscraper.config.errors import BadConfig

PREFLIGHT = "booksscraper.cluster.preflight.ClusterPreflight"


class ClusterAddon:
    def update_settings(self, settings: BaseSettings) -> None:
        if not settings.get("REDIS_URL"):
            for name in ("CLUSTER_MAX_RPS_PER_DOMAIN", "CLUSTER_MAX_CONCURRENCY_PER_DOMAIN"):
                if _is_set(settings.get(name)):
                    # A limit that silently does nothing is worse than an error.
                    raise BadConfig(f"{name}: needs REDIS_URL (the shared Redis)")
            return
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
