"""Scale-out over several workers with scrapy-redis, without losing requests or multiplying load.

- ``addon``: ``REDIS_URL`` switches a worker to the cluster scheduler.
- ``leases``/``scheduler``: leased requests (``kill -9`` loses nothing; a dead worker's come back
  when its heartbeat stops), cluster-wide end of crawl.
- ``ratelimit``/``concurrency``: the site pacer's shared state in Redis (Lua GCRA schedule,
  in-flight tokens): every pacing limit holds for all workers together.
- ``preflight``: bad settings, no Redis, or the keys of a finished crawl: one line, exit 2.
- ``merge``: the workers' outputs as one JSON array, each book once, and what changed since the
  last crawl (``booksscraper.incremental.cluster``).
- ``mode``: is this a cluster crawl (one answer); ``crawlid``: which crawl a worker joined;
  ``outage``: Redis away, retried for a bounded time.

``make cluster`` and the throw-away redis-server are tools (``booksscraper/tools/``).
"""
