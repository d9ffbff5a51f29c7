"""Politeness keyed by the site: when a request may leave, and how many at once.

- ``holder``: ``DelayedRequests``, requests held outside the downloader until they are due
  (retry backoff, the pacer).
- ``pacer``: ``SitePacer``, the one owner of the delay between requests to a site (held
  requests wait in the delayed-request holder; a cluster shares the schedule in Redis).
- ``site``: what one site may take now (the largest of its limits; the 429/503 slow-down).
- ``downloader``: Scrapy's downloader with per-slot concurrency that holds during bursts.
- ``controller`` and ``law``: the adaptive controller (pure, no Scrapy): each site's window
  of signals and the control law that turns them into a concurrency and a pace;
  ``booksscraper.extensions.adaptive`` feeds it and applies its decisions.
"""
