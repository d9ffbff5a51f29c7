"""Incremental re-crawls: fetch only what changed, and report what changed since the last run.

Settings (declared in ``booksscraper.config.declared``):

- ``INCREMENTAL``: compare the crawl with the previous run's books and send
  conditional requests. ``False``: a plain full crawl (no state read or written,
  no conditional request).
- ``INCREMENTAL_CONDITIONAL``: conditional requests (the HTTP cache);
  ``False`` keeps the change report but fetches every page in full.
- ``INCREMENTAL_HISTORY_DIR``: where each scope's state is kept (``state``); empty:
  ``OUTPUT_DIR/incremental``, or for a scrapyd job ``incremental`` beside the job's folder,
  shared by every job.
- ``INCREMENTAL_REDIS_KEY``: on a cluster, the Redis key
  prefix of the shared page cache.
- ``CHANGES_FILE``: in ``OUTPUT_DIR``.

Modules, one concern each:

- ``state``: the history, one state per scope (the start URL's site and section) side by
  side, each the catalogue as last known with a header that tells it is whole, advanced
  only by a crawl that finished, so an interrupted, cancelled or failed crawl, another
  scope or ``INCREMENTAL=False`` never takes it away.
- ``changes``: the comparison, ``changes.jsonl``, the summary line, the report section.
- ``fetch``: ``ConditionalFetch``, Scrapy's HTTP cache middleware revalidating every page
  (``RevalidatePolicy``), pages kept by ``SqliteCacheStorage`` or, on a cluster,
  ``RedisCacheStorage``.
- ``extension``: ``IncrementalCrawl``, which compares at the end of a crawl.
- ``cluster``: a cluster worker's part, and the comparison at the merge step.
"""
