"""BatchPool with real worker processes: batching triggers, backpressure, crashes, signals."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Coroutine
from typing import Any

import psutil
import pytest

from booksscraper.pipelines.pool import (
    MAX_FRUITLESS_RESTARTS,
    BatchPool,
    PoolUnusable,
    WorkerCrashed,
)
from tests.cleanup import jobs
from tests.helpers import REPO

# Generous: a broken trigger shows up as a wait that never ends, not as slowness.
NEVER = 60.0


def run(coro_fn: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(coro_fn(), 90))


def make_pool(fn: Callable[..., Any] = jobs.double, **options: Any) -> BatchPool:
    options.setdefault("workers", 1)
    options.setdefault("start_method", "spawn")
    pool = BatchPool(fn, **options)
    pool.start()
    return pool


async def results_then_close(pool: BatchPool, *submitted: Coroutine[Any, Any, Any]) -> list[Any]:
    """The results of ``submitted`` (a trigger that never fires shows as a timeout), then close."""
    try:
        return await asyncio.wait_for(asyncio.gather(*submitted), 30)
    finally:
        await pool.close()


@pytest.mark.timeout(120)
def test_full_batches_are_sent_without_waiting_for_the_timer() -> None:
    async def main() -> tuple[list[int], BatchPool]:
        pool = make_pool(batch_size=4, max_wait=NEVER)
        return await results_then_close(pool, *(pool.submit(i) for i in range(8))), pool

    results, pool = run(main)
    assert results == [i * 2 for i in range(8)]
    assert pool.stats.batches == 2
    assert pool.stats.batch_size_max == 4


@pytest.mark.timeout(120)
def test_a_partial_batch_is_sent_when_the_timer_fires() -> None:
    async def main() -> tuple[list[int], BatchPool]:
        pool = make_pool(batch_size=100, max_wait=0.05)
        return await results_then_close(pool, *(pool.submit(i) for i in range(3))), pool

    results, pool = run(main)
    assert results == [0, 2, 4]
    assert (pool.stats.batches, pool.stats.batch_size_max) == (1, 3)


@pytest.mark.timeout(120)
def test_close_flushes_the_pending_batch() -> None:
    async def main() -> tuple[list[asyncio.Task[int]], bool, BatchPool]:
        pool = make_pool(batch_size=100, max_wait=NEVER)
        tasks = [asyncio.ensure_future(pool.submit(i)) for i in range(5)]
        await asyncio.sleep(0.2)
        waiting_before_close = not any(t.done() for t in tasks)
        await pool.close()
        return tasks, waiting_before_close, pool

    tasks, waiting_before_close, pool = run(main)
    assert waiting_before_close  # neither size nor timer had sent it
    assert [t.result() for t in tasks] == [0, 2, 4, 6, 8]
    assert pool.stats.batches == 1


@pytest.mark.timeout(120)
def test_the_last_payload_sends_the_partial_batch_at_once() -> None:
    async def main() -> tuple[list[int], BatchPool]:
        pool = make_pool(batch_size=100, max_wait=NEVER)
        submitted = (pool.submit(0), pool.submit(1), pool.submit(2, last=True))
        return await results_then_close(pool, *submitted), pool

    results, pool = run(main)
    assert results == [0, 2, 4]
    assert (pool.stats.batches, pool.stats.batch_size_max) == (1, 3)  # not at close


@pytest.mark.timeout(120)
def test_items_in_flight_are_bounded_and_callers_wait() -> None:
    async def main() -> tuple[list[int], BatchPool]:
        pool = make_pool(jobs.slow_double, batch_size=2, max_wait=0.01, max_in_flight=4)
        try:
            results = await asyncio.gather(*(pool.submit(i) for i in range(40)))
        finally:
            await pool.close()
        return results, pool

    results, pool = run(main)
    assert results == [i * 2 for i in range(40)]
    assert pool.stats.in_flight_max == 4


@pytest.mark.timeout(120)
def test_a_killed_worker_loses_no_item_and_the_pool_is_rebuilt() -> None:
    async def main() -> tuple[list[int], BatchPool, int]:
        pool = make_pool(jobs.slow_double, workers=2, batch_size=5, max_wait=0.01)
        tasks = [asyncio.ensure_future(pool.submit(i)) for i in range(120)]
        while not any(t.done() for t in tasks):  # workers up and busy
            await asyncio.sleep(0.01)
        victim = pool.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        try:
            results = await asyncio.gather(*tasks)
        finally:
            await pool.close()
        return results, pool, victim

    results, pool, victim = run(main)
    assert results == [i * 2 for i in range(120)]
    assert pool.stats.restarts >= 1
    assert not psutil.pid_exists(victim) or psutil.Process(victim).status() == "zombie"


@pytest.mark.timeout(120)
def test_a_payload_that_keeps_killing_workers_fails_alone() -> None:
    payloads: list[object] = [*range(10), "poison", *range(10, 20)]

    async def main() -> tuple[list[object], BatchPool]:
        pool = make_pool(jobs.die_on_poison, batch_size=8, max_wait=0.01, max_crashes=1)
        try:
            results = await asyncio.gather(
                *(pool.submit(p) for p in payloads), return_exceptions=True
            )
        finally:
            await pool.close()
        return results, pool

    results, pool = run(main)
    poisoned = results[10]
    assert isinstance(poisoned, WorkerCrashed)
    assert results[:10] + results[11:] == [f"ok:{p}" for p in payloads if p != "poison"]
    assert pool.stats.crashed_payloads == 1
    assert pool.stats.restarts >= 2  # at least the crash in its batch and once alone


@pytest.mark.timeout(120)
def test_workers_ignore_sigint() -> None:
    async def main() -> tuple[list[tuple[int, int]], int]:
        pool = make_pool(jobs.pid_and_double, batch_size=1, max_wait=0.01)
        try:
            first = await pool.submit(1)
            os.kill(first[0], signal.SIGINT)
            await asyncio.sleep(0.3)
            second = await pool.submit(2)
        finally:
            await pool.close()
        return [first, second], pool.stats.restarts

    (first, second), restarts = run(main)
    assert first[0] == second[0]  # the same worker served both: SIGINT did not kill it
    assert restarts == 0


@pytest.mark.timeout(120)
@pytest.mark.parametrize("start_method", ["forkserver", "spawn"])
def test_workers_exit_when_their_crawl_is_killed(start_method: str) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio
        from booksscraper.pipelines.pool import BatchPool
        from tests.cleanup import jobs

        async def main():
            pool = BatchPool(jobs.double, workers=2, start_method={start_method!r},
                             batch_size=1, max_wait=0.01)
            pool.start()
            await asyncio.gather(pool.submit(1), pool.submit(2))
            print("ready", flush=True)
            await asyncio.sleep(120)

        if __name__ == "__main__":
            asyncio.run(main())
        """
    )
    proc = subprocess.Popen(
        # stderr: the orphaned forkserver may print a traceback as it goes.
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 2
        proc.kill()  # SIGKILL: no cleanup code of the crawl runs
        proc.wait(10)
        _gone, alive = psutil.wait_procs(children, timeout=15)
        assert alive == [], f"left behind: {alive}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.timeout(120)
def test_workers_that_can_never_finish_make_the_pool_unusable_not_a_loop() -> None:
    async def main() -> tuple[list[object], BatchPool]:
        pool = make_pool(jobs.die_on_poison, batch_size=4, max_wait=0.01, max_crashes=0)
        try:
            results = await asyncio.gather(*(pool.submit("poison") for _ in range(40)),
                                           return_exceptions=True)
        finally:
            await pool.close()
        return results, pool

    results, pool = run(main)
    assert {type(r) for r in results} <= {WorkerCrashed, PoolUnusable}
    assert PoolUnusable in {type(r) for r in results}
    assert pool.stats.restarts == MAX_FRUITLESS_RESTARTS
