"""Scale-out over several workers with scrapy-redis, without losing requests or multiplying load.

- ``addon``: ``REDIS_URL`` switches a worker to the cluster scheduler.
- ``leases``/``scheduler``: leased requests (``kill -9`` loses nothing), cluster-wide end of crawl.
- ``ratelimit``: one requests-per-second limit per domain for all workers (Redis, Lua GCRA).
- ``merge``: the workers' outputs as one JSON array, each book once.
- ``run``: ``make cluster``: local redis-server, sandbox, N workers, merge.
- ``redis_server``: a throw-away redis-server on a free loopback port.
"""
