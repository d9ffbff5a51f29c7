"""Every stat the progress display, the close summary and the report read is one a crawl writes.

One real crawl with faults (429 with Retry-After, connection resets, a proxy
that is down) and one retry per page, so that some pages
are given up; the readers then run on its stats.json through a dict that notes
each key they ask for by name.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scrapy.utils.test import get_crawler

from booksscraper.extensions.progress import Progress
from booksscraper.extensions.summary import summary_numbers
from booksscraper.report import charts, render_markdown
from tests.helpers import read_lines
from tests.monitoring.conftest import Crawl, crawl
from tests.proxies import TinyProxies, free_port

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(shutil.which("tinyproxy") is None, reason="tinyproxy is not installed"),
]

BOOKS = 40
# Read by name but written only when there is something to say: the cap was
# reached; Scrapy's CoreStats counts the first dropped item (none here: pages
# with missing fields are rejected before they become items); the changes since the last
# run need a last run (booksscraper.incremental).
ONLY_WHEN_IT_HAPPENS = {"monitor/memory_cap_reached", "item_dropped_count", "changes/summary",
                        "pacing/returned"}
# Written only in cluster mode (REDIS_URL): the queue and leases of the whole cluster.
ONLY_WHEN_IT_HAPPENS |= {"cluster/queue/queued", "cluster/queue/leased"}
# The ledger: a count the site never showed, listing pages never short of their range.
ONLY_WHEN_IT_HAPPENS |= {"ledger/announced", "ledger/short_listings"}
EMPTY_BUCKETS_UNWRITTEN = "latency/histogram_ms/"


class ReadRecorder(dict[str, Any]):
    """A crawl's stats that note every key looked up by name (iteration is not a lookup)."""

    def __init__(self, stats: dict[str, Any]) -> None:
        super().__init__(stats)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)

    # The reading side of a StatsCollector, for the progress display.
    def get_value(self, key: str, default: Any = None) -> Any:
        return self.get(key, default)

    def get_stats(self) -> ReadRecorder:
        return self


@pytest.fixture(scope="module")
def faulty_crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawl]:
    from booksscraper.sandbox.testing import running_sandbox

    tmp = tmp_path_factory.mktemp("faults")
    proxies = TinyProxies(tmp)
    with running_sandbox(
        books=BOOKS, seed=5, fault_429=0.3, retry_after=1, fault_reset=0.05
    ) as sandbox:
        try:
            alive = proxies.start("127.0.0.1")
            dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
            result = crawl(
                sandbox,
                tmp / "out",
                f"ROTATING_PROXY_LIST={alive},{dead}",
                "RETRY_TIMES=1",
                "RETRY_SLOWDOWN_MAX=0.1",  # 429s must not slow the test down
                "PROGRESS=log",
                "PROGRESS_INTERVAL=0.2",
            )
        finally:
            proxies.stop_all()
    # Pages are lost on purpose: the exit code says so; the crawl itself ran to its end.
    assert result.stats["finish_reason"] == "finished", result.stderr[-3000:]
    yield result


def test_every_stat_read_is_written(faulty_crawl: Crawl, tmp_path: Path) -> None:
    stats = ReadRecorder(faulty_crawl.stats)
    crawler = get_crawler()
    crawler.stats = stats  # type: ignore[assignment]
    progress = Progress(crawler, "log", 1.0, 1.0)
    progress.opened_at = 0.0
    progress.tick(final=True)
    summary_numbers(stats)
    render_markdown(stats, faulty_crawl.samples, {}, tmp_path)
    charts.latency_histogram(stats)
    charts.status_counts(stats)
    # The two figures once read but never written are among those read now.
    assert {"retry/backoff/waiting", "ledger/failed"} <= stats.read
    unwritten = {
        key
        for key in stats.read - set(faulty_crawl.stats) - ONLY_WHEN_IT_HAPPENS
        if not key.startswith(EMPTY_BUCKETS_UNWRITTEN)
    }
    assert not unwritten, f"read but never written by the crawl: {sorted(unwritten)}"


def test_figures_show_what_happened(faulty_crawl: Crawl) -> None:
    stats = faulty_crawl.stats
    failures = read_lines(faulty_crawl.out_dir / "failures.jsonl")
    assert stats["ledger/failed"] == len(failures) > 0
    assert stats["log_count/ERROR"] >= 1  # giving up is logged at ERROR
    assert stats["retry/backoff/max_waiting"] >= 1
    assert stats["retry/backoff/waiting"] == 0  # none left when the crawl ended
    # The progress lines showed the retries waiting out their Retry-After.
    waiting = [int(n) for n in re.findall(r"Progress: .*?, (\d+) in backoff", faulty_crawl.stderr)]
    assert waiting and max(waiting) >= 1, faulty_crawl.stderr[-3000:]
    summary = re.search(r"Crawl summary \(\w+\): .*?; (\d+) requests given up,",
                        faulty_crawl.stderr)
    assert summary and int(summary.group(1)) == len(failures)
    assert json.loads((faulty_crawl.out_dir / "stats.json").read_text())["proxies/dead"] >= 1
