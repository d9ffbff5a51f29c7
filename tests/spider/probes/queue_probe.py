"""A test-only extension: the most requests ever waiting in the scheduler, into the stats.

Loaded in crawl subprocesses with ``PYTHONPATH=tests/spider/probes`` and
``-s EXTENSIONS={"queue_probe.QueueProbe": 0}``. It reads Scrapy's own
``scheduler/enqueued`` and ``scheduler/dequeued`` counters after every
scheduled request.
"""

from __future__ import annotations

from typing import Any

from scrapy import signals


class QueueProbe:
    def __init__(self, crawler: Any) -> None:
        self.stats = crawler.stats
        crawler.signals.connect(self.request_scheduled, signals.request_scheduled)

    @classmethod
    def from_crawler(cls, crawler: Any) -> QueueProbe:
        return cls(crawler)

    def request_scheduled(self, request: Any) -> None:
        # request_scheduled fires before the push: count this one as waiting too.
        waiting = (
            self.stats.get_value("scheduler/enqueued", 0)
            - self.stats.get_value("scheduler/dequeued", 0)
            + 1
        )
        self.stats.max_value("probe/scheduler_peak", waiting)
