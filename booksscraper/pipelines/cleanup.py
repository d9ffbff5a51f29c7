"""Cleanup pipeline: CPU-heavy normalization on a process pool, off the crawl's thread.

Scrapy runs pipelines in the reactor's only thread: cleanup done there stalls
every download while it runs. This pipeline sends items, in batches, to a
``ProcessPoolExecutor`` (``booksscraper.pipelines.pool.BatchPool``) running
the pure functions of ``booksscraper.cleanup``, and awaits each item's result:
the reactor only pickles and applies results. Near-duplicate flagging needs
every description seen so far, so its LSH index stays in this process; with
``JOBDIR`` it also covers earlier runs of the job: each signature is kept in
``JOBDIR/near_duplicates.sqlite`` (``SignatureStore``) and those of the books
earlier runs exported are put back in the index when the spider opens. In a
cluster each worker's index holds the books that worker cleaned (docs/cleanup.md).

Per item: title and category repaired (mojibake, NFC, whitespace);
``description`` = the clean description, ``description_raw`` = the text as the
page shows it; money quantized to 2 places (exactly, or the item is rejected)
and ``currency`` an ISO code; ``word_count``, ``reading_time_s``;
``near_duplicate_of`` = url of an earlier book with a near-identical
description (None otherwise). An item whose cleanup fails is written to the
rejects file with reason ``cleanup_error:<ExceptionType>`` and dropped.

Settings (defaults in docs/settings.md):

- ``CLEANUP_WORKERS``: worker processes (unset: the number of usable CPUs);
  0 cleans inline in the crawl process (for debugging: tracebacks, pdb). Measured on 2
  CPUs (benchmarks/cleanup_pool.py): 1 worker gains no throughput over inline
  (only responsiveness), 2 gain ~1.5x on heavy cleanup, 3 gain no more than 2
  and let event-loop lag pass 50 ms. In a scale-out with several crawl
  processes on one machine, divide the CPUs between them.
- ``CLEANUP_INLINE_ITEMS``: items cleaned inline, in the crawl process, before
  the pool is used. The pool starts, in the background, once the crawl has scheduled
  more requests than this (a long crawl: its workers boot while the first pages
  download), or at the latest with the next item; a crawl of up to this many items
  never starts a worker, whose start a one-page crawl would wait for (BENCHMARKS.md,
  start-up). The items after it wait for the workers asynchronously, as the crawl
  goes on. 0 starts the pool when the spider opens. With ``CLOSESPIDER_ITEMCOUNT=N``
  every item is cleaned inline (none waits in a batch while the limit closes the
  crawl) and at most N + ``CONCURRENT_REQUESTS`` pass: the pages downloaded after
  those are left at the stop (the ledger's "not attempted").
- ``CLEANUP_START_METHOD``: how workers start;
  ``"forkserver"`` (workers fork from a clean server process that imported the
  cleanup code once; ~0.4-0.9 s to the first worker) or ``"spawn"`` (a fresh
  interpreter per worker; slower to start). ``"fork"`` starts in ~10 ms but
  copies the reactor's threads, locks and sockets into workers: allowed, not
  advised. Workers are started off the event loop.
- ``CLEANUP_BATCH_SIZE``: items per pool task. A task costs the crawl
  process ~0.3 ms on top of ~0.06 ms per item: 25 keeps that overhead small
  and still splits a 1000-book crawl into enough batches for every worker.
- ``CLEANUP_BATCH_MAX_WAIT``: seconds a partial batch waits for more items
  (none while nothing is downloading: no item is coming).
- ``CLEANUP_MAX_IN_FLIGHT``: items queued or being cleaned at most;
  beyond it ``process_item`` waits, which slows the scraper down (and with it,
  through ``SCRAPER_SLOT_MAX_ACTIVE_SIZE``, the downloads).
- ``CLEANUP_MAX_CRASHES``: retries of an item that killed its worker
  while running alone; then it is rejected (``cleanup_error:WorkerCrashed``).
- ``CLEANUP_NEAR_DUPLICATES``: compute signatures and flag near-duplicates.
- ``CLEANUP_NEAR_DUPLICATE_THRESHOLD``: estimated Jaccard similarity of
  word 3-grams from which two descriptions are near-duplicates.
- ``CLEANUP_EXTRA_WORK``: extra hashing rounds per item, for benchmarks.

Stats: ``cleanup/items`` (cleaned), ``cleanup/inline_items`` (cleaned in the crawl process),
``cleanup/pool_started`` (1 once the pool was started), ``cleanup/batches``,
``cleanup/batch_size_max``,
``cleanup/pool_restarts``, ``cleanup/pool_unusable`` (1 when workers kept dying
before finishing any batch, and the crawl fell back to cleaning inline),
``cleanup/workers``, ``cleanup/near_duplicates``,
``cleanup/near_duplicate_index_failed`` (1 when the index's temp file or its
JOBDIR store failed: flagging stops, the books go on),
``cleanup/near_duplicate_index_restored`` (signatures of earlier runs put back),
``cleanup/rejected`` and ``cleanup/rejected/cleanup_error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.asyncio import is_asyncio_available
from scrapy.utils.reactor import is_reactor_installed

from booksscraper.cleanup import CleanupOptions, clean_batch
from booksscraper.cleanup.record import INPUT_FIELDS, SIGNATURE
from booksscraper.cleanup.signature import NearDuplicateIndex, SignatureStore
from booksscraper.config.errors import BadConfig
from booksscraper.config.readers import boolean, choice, number, whole_number
from booksscraper.ledger.book_ledger import LeftAtStop
from booksscraper.output.resume import exported_before
from booksscraper.records.rejects import Rejects

if TYPE_CHECKING:
    from booksscraper.pipelines.pool import BatchPool

# multiprocessing's start methods, for CLEANUP_START_METHOD.
START_METHODS = ("forkserver", "spawn", "fork")

logger = logging.getLogger(__name__)


def usable_cpus() -> int:
    """CPUs this process may run on (a container's or taskset's limit, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class CleanupPipeline:
    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        # Unset: the usable CPUs, known only on the machine that crawls.
        self.workers = usable_cpus() if settings.get("CLEANUP_WORKERS") is None else (
            whole_number(settings, "CLEANUP_WORKERS")
        )
        if not boolean(settings, "OUTPUT_ENABLED"):
            self.workers = 0  # a look at one page (scrapy parse...): no pool to start and stop
        self.inline_items = whole_number(settings, "CLEANUP_INLINE_ITEMS")
        # CLOSESPIDER_ITEMCOUNT=N: N + CONCURRENT_REQUESTS items at most, cleaned inline (each
        # exported at once, none waiting in a batch); the ones after it are left at the stop.
        limit = max(0, settings.getint("CLOSESPIDER_ITEMCOUNT"))
        self._limit_left = limit + settings.getint("CONCURRENT_REQUESTS") if limit else None
        self.start_method = choice(settings, "CLEANUP_START_METHOD", START_METHODS)
        self.batch_size = whole_number(settings, "CLEANUP_BATCH_SIZE", minimum=1)
        self.max_wait = number(settings, "CLEANUP_BATCH_MAX_WAIT", maximum=60)
        if self.max_wait == 0:
            raise BadConfig("CLEANUP_BATCH_MAX_WAIT: must be between 0 and 60 seconds")
        self.max_in_flight = whole_number(settings, "CLEANUP_MAX_IN_FLIGHT", minimum=1)
        if self.max_in_flight < self.batch_size:
            raise BadConfig("CLEANUP_MAX_IN_FLIGHT: must be at least CLEANUP_BATCH_SIZE "
                            f"({self.batch_size}), or batches never fill")
        self.max_crashes = whole_number(settings, "CLEANUP_MAX_CRASHES")
        threshold = number(settings, "CLEANUP_NEAR_DUPLICATE_THRESHOLD", maximum=1)
        if threshold == 0:
            raise BadConfig("CLEANUP_NEAR_DUPLICATE_THRESHOLD: must be in (0, 1]")
        near_duplicates = boolean(settings, "CLEANUP_NEAR_DUPLICATES")
        self.index = NearDuplicateIndex(threshold) if near_duplicates else None
        jobdir = settings.get("JOBDIR")
        self.store = SignatureStore(Path(jobdir)) if near_duplicates and jobdir else None
        self.options = CleanupOptions(
            extra_work=whole_number(settings, "CLEANUP_EXTRA_WORK"),
            signatures=near_duplicates,
        )
        self.rejects = Rejects.for_crawler(crawler)
        self.pool: BatchPool | None = None
        self._pool_wanted = False  # workers > 0, and the asyncio reactor to run them
        self._inline_left = 0  # items still to clean inline before the pool starts
        self._scheduled = 0  # requests scheduled: past CLEANUP_INLINE_ITEMS, a long crawl
        self._scheduled_connected = False
        self._shutdown_trigger: Any = None
        self._warm_up: asyncio.Future[None] | None = None
        self._downloader: Any = None  # the crawl's, whose requests in flight bring items

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CleanupPipeline:
        return cls(crawler)

    async def open_spider(self) -> None:
        self.stats.set_value("cleanup/workers", self.workers)
        if self.store is not None and self.index is not None:
            exported = exported_before(self.crawler)
            restored = 0
            for key, signature in self.store:
                if key in exported:
                    self.index.add(key, signature)
                    restored += 1
            self.stats.set_value("cleanup/near_duplicate_index_restored", restored)
        if self.workers == 0 or self._limit_left is not None:
            return  # inline: no workers to start
        if self.crawler.crawling:  # not a pipeline run on its own
            self._downloader = self.crawler.engine.downloader
        if not is_asyncio_available():
            raise BadConfig("CLEANUP_WORKERS: the process pool needs the asyncio reactor "
                            "(TWISTED_REACTOR); set CLEANUP_WORKERS=0 to clean inline")
        self._pool_wanted = True
        self._inline_left = self.inline_items
        if self._inline_left == 0:
            self._start_pool()
        else:
            # A crawl that schedules more pages than the inline items is long: its workers
            # start now, while the first pages download, not when the items run out.
            self._scheduled_connected = True
            self.crawler.signals.connect(self._request_scheduled, signals.request_scheduled)

    def _request_scheduled(self) -> None:
        self._scheduled += 1
        if self._scheduled > self.inline_items and self._pool_wanted:
            self._start_pool()

    async def _submit(self, pool: BatchPool, record: dict[str, Any]) -> tuple[bool, Any]:
        """``record`` cleaned by the pool, or inline once the pool proves unusable."""
        from booksscraper.pipelines.pool import PoolUnusable  # loaded with the pool

        # Nothing downloading: no item follows soon, the partial batch need not wait for one
        # (at the end of a crawl, CLEANUP_BATCH_MAX_WAIT held the last items, and the close).
        last = self._downloader is not None and not self._downloader.active
        try:
            return await pool.submit(record, last=last)
        except PoolUnusable as exc:
            self._fall_back_inline(exc)
            return clean_batch([record], self.options)[0]

    def _start_pool(self) -> None:
        """Start the workers, off the event loop: items wait for them asynchronously."""
        if self._scheduled_connected:
            self._scheduled_connected = False
            self.crawler.signals.disconnect(self._request_scheduled, signals.request_scheduled)
        # Here, not at the top: a crawl of up to CLEANUP_INLINE_ITEMS items never loads it.
        from booksscraper.pipelines.pool import BatchPool

        self._pool_wanted = False
        self.stats.set_value("cleanup/pool_started", 1)
        self.pool = BatchPool(
            functools.partial(clean_batch, options=self.options),
            workers=self.workers,
            start_method=self.start_method,
            batch_size=self.batch_size,
            max_wait=self.max_wait,
            max_in_flight=self.max_in_flight,
            max_crashes=self.max_crashes,
            # numpy and ftfy too: the cleanup code imports them on first use only (in the
            # crawl's own process, only if it cleans inline), and every worker forks with
            # them loaded.
            preload=("booksscraper.cleanup", "numpy", "ftfy"),
            on_restart=lambda: self.stats.inc_value("cleanup/pool_restarts"),
            on_batch=self._count_batch,
        )
        self.pool.start()
        # Workers start while the first pages download, off the event loop.
        self._warm_up = asyncio.ensure_future(self.pool.warm_up())
        # A forced stop (second Ctrl-C or SIGTERM) stops the reactor without
        # closing the spider: the workers must still go. (Never import the
        # reactor here: that would install one where none runs.)
        if is_reactor_installed():
            from twisted.internet import reactor

            self._shutdown_trigger = reactor.addSystemEventTrigger(
                "before", "shutdown", self.pool.terminate
            )

    async def close_spider(self) -> None:
        if self.pool is not None:
            if self._warm_up is not None:
                with contextlib.suppress(Exception):  # a failed warm-up shows in the batches
                    await self._warm_up
            await self.pool.close()
        if self.index is not None:
            self.index.close()  # its temporary file
        if self.store is not None:
            self.store.close()
        if self._shutdown_trigger is not None:
            from twisted.internet import reactor

            reactor.removeSystemEventTrigger(self._shutdown_trigger)
            self._shutdown_trigger = None

    def _count_batch(self, size: int) -> None:
        self.stats.inc_value("cleanup/batches")
        self.stats.max_value("cleanup/batch_size_max", size)

    async def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        record = {name: adapter.get(name) for name in INPUT_FIELDS}
        if self._pool_wanted:
            if self._inline_left > 0:
                self._inline_left -= 1
            else:
                self._start_pool()
        inline = self.pool is None or self._limit_left is not None
        if self._limit_left is not None:
            if self._limit_left == 0:
                raise LeftAtStop(f"past CLOSESPIDER_ITEMCOUNT: {adapter.get('url')}",
                                 log_level="DEBUG")
            self._limit_left -= 1
        try:
            if inline:
                ok, result = clean_batch([record], self.options)[0]
                self.stats.inc_value("cleanup/inline_items")
            else:
                assert self.pool is not None
                ok, result = await self._submit(self.pool, record)
        except Exception as exc:  # the pool could not run it (worker crashes, shutdown)
            ok, result = False, f"{type(exc).__name__}: {exc}"
        if not ok:
            self._reject(item, result)
        self._apply(adapter, result)
        self.stats.inc_value("cleanup/items")
        return item

    def _fall_back_inline(self, exc: Exception) -> None:
        """Workers cannot run here (e.g. no /dev/shm): clean inline rather than lose items."""
        if self.pool is not None:
            logger.error("cleanup process pool unusable (%s): cleaning inline from now on", exc)
            self.stats.set_value("cleanup/pool_unusable", 1)
            self.pool = None

    def _reject(self, item: Any, error: str) -> None:
        exc_type = error.split(":", 1)[0]
        self.rejects.reject(item, [f"cleanup_error:{exc_type}"], stage="cleanup")
        raise DropItem(f"cleanup failed on {ItemAdapter(item).get('url')}: {error}")

    def _apply(self, adapter: ItemAdapter, fields: dict[str, Any]) -> None:
        signature = fields.pop(SIGNATURE, None)
        if self.index is not None:
            key = str(adapter.get("url") or adapter.get("book_id"))
            try:
                fields["near_duplicate_of"] = (
                    self.index.add(key, signature) if signature is not None else None
                )
                if fields["near_duplicate_of"] == key:  # itself, cleaned in an earlier run
                    fields["near_duplicate_of"] = None
                if self.store is not None and signature is not None:
                    self.store.put(key, signature)
            except (OSError, sqlite3.Error) as exc:  # temp file or store (full, gone): books go on
                logger.error("near-duplicate index failed (%s): no more near-duplicate flags", exc)
                self.stats.set_value("cleanup/near_duplicate_index_failed", 1)
                with contextlib.suppress(OSError):
                    self.index.close()
                self.index = None
            if fields.get("near_duplicate_of") is not None:
                self.stats.inc_value("cleanup/near_duplicates")
        for name, value in fields.items():
            # An item class without one of these fields keeps what it has.
            with contextlib.suppress(KeyError):
                adapter[name] = value

