"""Incremental crawls on a cluster: each worker fetches conditionally, the merge compares.

Every worker revalidates pages against one page cache in Redis (``RedisCacheStorage``),
so a 304 is possible whichever worker fetched the page last time. No worker sees the whole
catalogue, so none compares: each writes ``WORKER_FILE`` in its ``OUTPUT_DIR`` at the end
(its start URL, how it finished, listing pages lost, the book URLs it saw on listing
pages, as 64-bit keys), and the merge step (``python -m booksscraper.cluster.merge
--state-dir DIR``) compares all the workers' books with the state in that folder, once:
``changes.jsonl`` there and the summary line. A book is "removed" only if every worker
finished (a worker killed mid-crawl left no ``WORKER_FILE``), none lost a listing page and
the book's URL was on no worker's listing page; a page that failed on any worker is "not
checked". Only then does the state advance, as for a single-process crawl.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings

from booksscraper.config.declared import default
from booksscraper.dedup.keyset import KeySet, key64
from booksscraper.incremental.changes import Comparison, compare, failed_urls, unseen_verdict
from booksscraper.incremental.state import (
    STATE_BOOKS,
    STATE_DIR,
    in_scope,
    read_run,
    write_state,
)
from booksscraper.ledger.figures import LISTINGS_LOST
from booksscraper.output.errors import OutputError, stop_on_output_error
from booksscraper.output.folder import output_path
from booksscraper.output.jsonlines import iter_json_lines, replace_atomically

logger = logging.getLogger(__name__)

WORKER_FILE = "incremental-worker.json"


def worker_file(settings: BaseSettings) -> Path:
    return output_path(settings, "OUTPUT_JSONL").with_name(WORKER_FILE)


class ClusterWorker:
    """A cluster worker's part: ``WORKER_FILE`` for the comparison at the merge step."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.path = worker_file(crawler.settings)
        self.path.unlink(missing_ok=True)  # until this run has finished writing its own
        output_path(crawler.settings, "CHANGES_FILE").unlink(missing_ok=True)  # the merge's
        crawler.signals.connect(self.engine_stopped, signal=signals.engine_stopped)
        logger.info("incremental: cluster worker; pages revalidated against the Redis cache, "
                    "the changes are compared at the merge step")

    def engine_stopped(self) -> None:
        stats, spider = self.crawler.stats, self.crawler.spider
        listed = getattr(spider, "listed", None)
        report = {
            "start_url": getattr(spider, "start_url", None),
            "finish_reason": stats.get_value("finish_reason"),
            "listings_lost": stats.get_value(LISTINGS_LOST, 0),
            "listed": list(listed.keys()) if listed is not None else None,
        }
        try:
            replace_atomically(self.path, lambda f: f.write(json.dumps(report) + "\n"))
        except OutputError as exc:
            stop_on_output_error(self.crawler, exc)


class ListedKeys:
    """``url in listed`` over the 64-bit keys of every worker's listed URLs."""

    def __init__(self) -> None:
        self.keys = KeySet()

    def __contains__(self, url: object) -> bool:
        return isinstance(url, str) and key64(url) in self.keys


def _read_worker(directory: Path) -> dict[str, Any] | None:
    try:
        return json.loads((directory / WORKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def compare_workers(
    out_dir: Path, worker_dirs: Sequence[Path], state: Path | None = None, *,
    complete: bool = True,
) -> Comparison | str | None:
    """The comparison of a whole cluster crawl, into ``out_dir`` (the merged output's folder).

    ``state``: the state's folder (default: ``incremental/`` in ``out_dir``). ``complete``:
    False when books the site announced are neither merged nor named lost: compared (no
    book called removed), never written as the state.
    Returns the comparison, a line saying why there was none, or None when the workers
    crawled with ``INCREMENTAL=False`` (no comparison, the state untouched).
    """
    out_dir, dirs = Path(out_dir), [Path(d) for d in worker_dirs]
    changes = out_dir / default("CHANGES_FILE")
    changes.unlink(missing_ok=True)  # it describes the latest crawl only
    reports = [_read_worker(d) for d in dirs]
    present = [r for r in reports if r is not None]
    if not present:
        return None
    start_urls = {r.get("start_url") for r in present}
    start_url = next(iter(start_urls)) if len(start_urls) == 1 else None
    finished = complete and start_url is not None and all(
        r is not None and r.get("finish_reason") == "finished" for r in reports)
    listed = ListedKeys()
    for report in present:
        listed.keys.update(report.get("listed") or ())
    sure = finished and not any(r.get("listings_lost") for r in present) and all(
        r.get("listed") is not None for r in present)

    def books() -> Iterator[dict[str, Any]]:
        return chain.from_iterable(iter_json_lines(d / default("OUTPUT_JSONL")) for d in dirs)

    state = state or out_dir / STATE_DIR
    previous = read_run(state)
    if start_url is None or not in_scope(state, previous, start_url):
        previous = None
    if previous is None:
        if not finished:
            return "no previous finished crawl to compare with, and this one did not finish"
        write_state(state, books(), start_url)
        return ("no previous crawl to compare with; this crawl's books are the state the next "
                "one compares with")
    failed = failed_urls((d / default("FAILURES_FILE"), d / default("REJECTS_FILE"))
                         for d in dirs)
    result = compare(iter_json_lines(state / STATE_BOOKS), books(),
                     unseen_verdict(failed, listed, sure))
    result.write(changes)
    if finished:  # the carried-over books keep their last known values
        write_state(state, chain(books(), result.carried), start_url)
    return result
