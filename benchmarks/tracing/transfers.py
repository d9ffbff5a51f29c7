"""A benchmark-only extension: when each transfer started and ended, into a JSON file.

Loaded with ``-s EXTENSIONS={"benchmarks.tracing.transfers.TransferTrace": 0}``
and ``-s TRANSFER_TRACE_FILE=path``. A transfer's start is its response time
minus Scrapy's ``download_latency`` (measured from the download handler's
request to the response headers; the body follows at once on loopback).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from scrapy import signals


class TransferTrace:
    def __init__(self, crawler: Any) -> None:
        self.path = Path(crawler.settings.get("TRANSFER_TRACE_FILE", "transfers.json"))
        self.transfers: list[tuple[float, float]] = []
        self.opened = 0.0
        crawler.signals.connect(self.spider_opened, signals.spider_opened)
        crawler.signals.connect(self.response_downloaded, signals.response_downloaded)
        crawler.signals.connect(self.engine_stopped, signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler: Any) -> TransferTrace:
        return cls(crawler)

    def spider_opened(self) -> None:
        self.opened = time.monotonic()

    def response_downloaded(self, response: Any, request: Any) -> None:
        now = time.monotonic() - self.opened
        latency = request.meta.get("download_latency")
        if latency is not None:
            self.transfers.append((now - latency, now))

    def engine_stopped(self) -> None:
        self.path.write_text(json.dumps(self.transfers))
