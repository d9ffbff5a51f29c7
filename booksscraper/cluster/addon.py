"""The cluster switch: setting ``REDIS_URL`` turns a worker into a cluster worker.

Run by the BooksStack add-on. With ``REDIS_URL`` set it selects the leased
scrapy-redis scheduler (``booksscraper.cluster.scheduler``), scrapy-redis's
Redis dupefilter and a persistent queue, and adds the shared per-domain limits
(``booksscraper.cluster.ratelimit``, active when ``CLUSTER_MAX_RPS_PER_DOMAIN``
is set; ``booksscraper.cluster.concurrency``, active when
``CLUSTER_MAX_CONCURRENCY_PER_DOMAIN`` is set). Without ``REDIS_URL`` it
changes nothing (and either limit is an error: it would do nothing). Settings
given on the command line or in the project still win (add-on priority).
"""

from __future__ import annotations

from scrapy.settings import BaseSettings
from scrapy.utils.misc import load_object

from booksscraper.errors import BadConfig

# Next to the downloader, before the request log (950), so each attempt is counted once
# sent. A request first takes an in-flight slot, then a send time.
CONCURRENCY_MIDDLEWARE = "booksscraper.cluster.concurrency.ClusterConcurrencyMiddleware"
CONCURRENCY_ORDER = 935
RATE_LIMIT_MIDDLEWARE = "booksscraper.cluster.ratelimit.ClusterRateLimitMiddleware"
RATE_LIMIT_ORDER = 940
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
        settings.setdefault_in_component_priority_dict(
            "DOWNLOADER_MIDDLEWARES", load_object(CONCURRENCY_MIDDLEWARE), CONCURRENCY_ORDER
        )
        settings.setdefault_in_component_priority_dict(
            "DOWNLOADER_MIDDLEWARES", load_object(RATE_LIMIT_MIDDLEWARE), RATE_LIMIT_ORDER
        )
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
