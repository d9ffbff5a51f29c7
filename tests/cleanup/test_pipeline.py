"""CleanupPipeline in process, with a real process pool: results, rejects, near-duplicates,
a worker killed mid-run, settings."""

from __future__ import annotations

import asyncio
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil
import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from booksscraper.config.errors import BadConfig
from booksscraper.items import BookItem
from booksscraper.output.resume import MARKER
from booksscraper.pipelines.cleanup import CleanupPipeline
from booksscraper.pipelines.pool import BatchPool
from tests.cleanup.samples import CATALOGUE, spider_item
from tests.helpers import read_lines


def make_pipeline(tmp_path: Path, **settings: Any) -> CleanupPipeline:
    # CLEANUP_INLINE_ITEMS=0: these test the pool, which then starts when the spider opens.
    settings = {"OUTPUT_DIR": str(tmp_path), "CLEANUP_START_METHOD": "spawn",
                "CLEANUP_INLINE_ITEMS": 0, **settings}
    return CleanupPipeline.from_crawler(get_crawler(settings_dict=settings))


async def process_all(pipeline: CleanupPipeline, items: list[BookItem],
                      during: Any = None) -> list[Any]:
    await pipeline.open_spider()
    try:
        tasks = [asyncio.ensure_future(pipeline.process_item(item)) for item in items]
        if during is not None:
            await during(pipeline, tasks)
        return await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await pipeline.close_spider()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("workers", [0, 2])
def test_items_come_back_cleaned(tmp_path: Path, workers: int) -> None:
    pipeline = make_pipeline(tmp_path, CLEANUP_WORKERS=workers, CLEANUP_BATCH_SIZE=16)
    items = [spider_item(i) for i in range(1, 201)]
    results = asyncio.run(process_all(pipeline, items))
    assert results == items
    for item in items:
        book = CATALOGUE.book(item.book_id)  # type: ignore[arg-type]
        assert (item.description, item.description_raw) == (book.description, book.description_raw)
        assert item.word_count == (len(book.description.split()) if book.description else 0)
        assert item.near_duplicate_of is None
    stats = pipeline.stats.get_stats()
    assert stats["cleanup/items"] == 200
    if workers:
        assert stats["cleanup/batches"] >= 200 // 16
        assert stats["cleanup/batch_size_max"] == 16


@pytest.mark.timeout(120)
def test_a_short_crawl_cleans_inline_and_starts_no_worker(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path, CLEANUP_WORKERS=2, CLEANUP_INLINE_ITEMS=5)
    items = [spider_item(i) for i in range(1, 6)]
    before = set(psutil.Process().children(recursive=True))
    assert asyncio.run(process_all(pipeline, items)) == items
    assert set(psutil.Process().children(recursive=True)) == before  # no forkserver, no worker
    assert pipeline.pool is None
    assert [i.description for i in items] == [CATALOGUE.book(i).description for i in range(1, 6)]
    stats = pipeline.stats.get_stats()
    assert (stats["cleanup/items"], stats["cleanup/inline_items"]) == (5, 5)
    assert "cleanup/pool_started" not in stats and "cleanup/batches" not in stats


@pytest.mark.timeout(120)
def test_past_the_inline_items_the_pool_takes_the_rest(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path, CLEANUP_WORKERS=2, CLEANUP_INLINE_ITEMS=5,
                             CLEANUP_BATCH_SIZE=10)
    items = [spider_item(i) for i in range(1, 46)]
    worker_pids: list[int] = []

    async def clean_in_order() -> list[Any]:
        await pipeline.open_spider()
        try:
            results = [await pipeline.process_item(item) for item in items[:5]]
            assert pipeline.pool is None  # not before the 6th item
            rest = [asyncio.ensure_future(pipeline.process_item(item)) for item in items[5:]]
            results += await asyncio.gather(*rest)
            assert pipeline.pool is not None
            worker_pids.extend(pipeline.pool.worker_pids())
            return results
        finally:
            await pipeline.close_spider()

    assert asyncio.run(clean_in_order()) == items
    assert worker_pids and os.getpid() not in worker_pids  # cleaned in worker processes
    assert [i.description for i in items] == [CATALOGUE.book(i).description for i in range(1, 46)]
    stats = pipeline.stats.get_stats()
    assert (stats["cleanup/items"], stats["cleanup/inline_items"]) == (45, 5)
    assert stats["cleanup/pool_started"] == 1
    assert stats["cleanup/batches"] == 4 and stats["cleanup/batch_size_max"] == 10


@pytest.mark.timeout(120)
def test_a_bad_item_is_rejected_with_its_reason_and_the_rest_pass(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path, CLEANUP_WORKERS=1, CLEANUP_BATCH_SIZE=10)
    items = [spider_item(i) for i in range(1, 11)]
    items[4].price = Decimal("12.345")  # not a whole number of pence
    results = asyncio.run(process_all(pipeline, items))
    assert isinstance(results[4], DropItem)
    assert [r is item for r, item in zip(results, items, strict=True)] == [
        i != 4 for i in range(10)
    ]
    rejects = read_lines(tmp_path / "rejects.jsonl")
    assert [(r["url"], r["stage"], r["reasons"]) for r in rejects] == [
        (items[4].url, "cleanup", ["cleanup_error:MoneyError"])
    ]
    stats = pipeline.stats.get_stats()
    assert stats["cleanup/rejected"] == 1
    assert stats["cleanup/rejected/cleanup_error"] == 1
    assert stats["cleanup/items"] == 9


@pytest.mark.timeout(120)
def test_the_same_blurb_under_another_title_is_flagged(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path, CLEANUP_WORKERS=1)
    items = [spider_item(i) for i in range(1, 21)]
    copy = spider_item(21)
    copy.description = items[3].description  # same shown text, another book
    results = asyncio.run(process_all(pipeline, [*items, copy]))
    assert results[-1].near_duplicate_of == items[3].url
    assert [r.near_duplicate_of for r in results[:-1]] == [None] * 20
    assert pipeline.stats.get_value("cleanup/near_duplicates") == 1


@pytest.mark.timeout(120)
def test_a_worker_killed_mid_run_loses_no_item(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path, CLEANUP_WORKERS=2, CLEANUP_BATCH_SIZE=10,
                             CLEANUP_EXTRA_WORK=20)
    items = [spider_item(i) for i in range(1, 301)]
    killed: list[int] = []

    async def kill_a_worker(pipeline: CleanupPipeline, tasks: list[asyncio.Task[Any]]) -> None:
        while sum(t.done() for t in tasks) < 20:
            await asyncio.sleep(0.01)
        assert not all(t.done() for t in tasks)
        killed.append(pipeline.pool.worker_pids()[0])  # type: ignore[union-attr]
        os.kill(killed[0], signal.SIGKILL)

    results = asyncio.run(process_all(pipeline, items, during=kill_a_worker))
    assert results == items
    assert [i.description for i in items] == [CATALOGUE.book(i).description
                                              for i in range(1, 301)]
    stats = pipeline.stats.get_stats()
    assert stats["cleanup/pool_restarts"] >= 1
    assert stats["cleanup/items"] == 300
    assert "cleanup/rejected" not in stats


@pytest.mark.parametrize(("setting", "value"), [
    ("CLEANUP_WORKERS", "-1"), ("CLEANUP_WORKERS", "many"), ("CLEANUP_BATCH_SIZE", "0"),
    ("CLEANUP_START_METHOD", "thread"), ("CLEANUP_BATCH_MAX_WAIT", "0"),
    ("CLEANUP_BATCH_MAX_WAIT", "soon"),
    ("CLEANUP_MAX_IN_FLIGHT", "5"), ("CLEANUP_NEAR_DUPLICATE_THRESHOLD", "1.5"),
])
def test_bad_settings_are_named(tmp_path: Path, setting: str, value: str) -> None:
    with pytest.raises(BadConfig, match=f"^{setting}: "):
        make_pipeline(tmp_path, **{setting: value})


@pytest.mark.timeout(120)
def test_workers_that_cannot_start_fall_back_to_inline_cleanup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every worker dies in its initializer, as where processes cannot be started for real.
    def dying_executor(self: BatchPool) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(1, mp_context=self._context, initializer=os._exit,
                                   initargs=(3,))

    monkeypatch.setattr(BatchPool, "_new_executor", dying_executor)
    pipeline = make_pipeline(tmp_path, CLEANUP_WORKERS=1, CLEANUP_BATCH_SIZE=4)
    items = [spider_item(i) for i in range(1, 41)]
    results = asyncio.run(process_all(pipeline, items))
    assert results == items
    assert [i.description for i in items] == [CATALOGUE.book(i).description
                                              for i in range(1, 41)]
    stats = pipeline.stats.get_stats()
    assert stats["cleanup/pool_unusable"] == 1
    assert stats["cleanup/items"] == 40


@pytest.mark.timeout(120)
def test_a_failing_near_duplicate_index_stops_flagging_but_loses_no_book(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path, CLEANUP_WORKERS=0)
    items = [spider_item(i) for i in range(1, 21)]

    async def run() -> list[Any]:
        await pipeline.open_spider()
        try:
            first = [await pipeline.process_item(item) for item in items[:10]]
            assert pipeline.index is not None
            os.close(pipeline.index._fd)  # its temp file is gone (as on a full or lost TMPDIR)
            return first + [await pipeline.process_item(item) for item in items[10:]]
        finally:
            await pipeline.close_spider()

    assert asyncio.run(run()) == items
    stats = pipeline.stats.get_stats()
    assert stats["cleanup/near_duplicate_index_failed"] == 1
    assert stats["cleanup/items"] == 20
    assert pipeline.index is None


@pytest.mark.timeout(60)
def test_a_resumed_jobdir_crawl_flags_near_duplicates_of_books_exported_before(
    tmp_path: Path,
) -> None:
    """The index covers the job, not one process: earlier runs' exported books count."""
    jobdir = tmp_path / "job"
    first = [spider_item(i) for i in range(1, 21)]
    asyncio.run(process_all(make_pipeline(tmp_path, CLEANUP_WORKERS=0, JOBDIR=str(jobdir)),
                            first))
    # The first run was killed after exporting books 1-10; 11-20 were cleaned, not exported.
    (jobdir / MARKER).write_text("1")  # what a killed run leaves (booksscraper.output.resume)
    (tmp_path / "books.jsonl").write_text(
        "".join(f'{{"url": "{item.url}"}}\n' for item in first[:10]), encoding="utf-8")

    def resumed(**settings: Any) -> tuple[list[Any], CleanupPipeline]:
        copy_of_exported, copy_of_unexported = spider_item(21), spider_item(22)
        copy_of_exported.description = first[3].description
        copy_of_unexported.description = first[14].description
        pipeline = make_pipeline(tmp_path, CLEANUP_WORKERS=0, **settings)
        return asyncio.run(process_all(pipeline, [copy_of_exported, copy_of_unexported])), pipeline

    results, pipeline = resumed(JOBDIR=str(jobdir))
    assert [r.near_duplicate_of for r in results] == [first[3].url, None]
    assert pipeline.stats.get_value("cleanup/near_duplicate_index_restored") == 10
    results, _ = resumed()  # the control: without JOBDIR a run knows only its own books
    assert [r.near_duplicate_of for r in results] == [None, None]
