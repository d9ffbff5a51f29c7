"""Deciding that a crawl went wrong, and telling someone.

- ``monitors``: the rules a finished (or running) crawl is checked against.
- ``alerts``: where a failed check goes (log, ``alerts.jsonl``, a webhook).

The Scrapy components that run them are in ``booksscraper.extensions`` (``crawlmonitors``).
"""
