"""Incremental re-crawls: fetch only what changed, and report what changed since the last run.

Settings (declared in ``booksscraper.config.declared``):

- ``INCREMENTAL``: compare the crawl with the previous run's books and send
  conditional requests. ``False``: a plain full crawl (no state read or written,
  no conditional request).
- ``INCREMENTAL_CONDITIONAL``: conditional requests (the HTTP cache);
  ``False`` keeps the change report but fetches every page in full.
- ``INCREMENTAL_FROM``: the output folder of the run to compare with; its
  state moves into this run's ``OUTPUT_DIR``. Empty: ``OUTPUT_DIR`` itself, or under
  scrapyd (one folder per job, ``output/<job>/``) the sibling job folder that holds
  the newest state.
- ``INCREMENTAL_REDIS_KEY``: on a cluster, the Redis key
  prefix of the shared page cache.
- ``CHANGES_FILE``: in ``OUTPUT_DIR``.

Modules, one concern each:

- ``state``: the state folder ``OUTPUT_DIR/incremental/`` (the catalogue as last known),
  found and moved from run to run, advanced only by a crawl that finished, so an
  interrupted crawl, resumed with ``JOBDIR`` or run again, still compares with the last
  finished one.
- ``changes``: the comparison, ``changes.jsonl``, the summary line, the report section.
- ``fetch``: ``ConditionalFetch``, Scrapy's HTTP cache middleware revalidating every page
  (``RevalidatePolicy``), pages kept by ``SqliteCacheStorage`` or, on a cluster,
  ``RedisCacheStorage``.
- ``extension``: ``IncrementalCrawl``, which compares at the end of a crawl.
- ``cluster``: a cluster worker's part, and the comparison at the merge step.
"""
