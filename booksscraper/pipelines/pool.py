"""A process pool fed in batches from asyncio code, with backpressure and crash recovery.

``BatchPool.submit(payload)`` adds one payload to the current batch and awaits
that payload's own result. A batch goes to the pool as one task, ``fn(list)``,
when it holds ``batch_size`` payloads or ``max_wait`` seconds after its first
one, whichever comes first (or at once, for a payload submitted as the ``last``
for a while): every task has a fixed cost in the submitting
process (pickling, queues, wake-ups), so one task per item costs it ~5x more
CPU per item than batches of 25 (benchmarks/cleanup_pool.py). At most
``max_in_flight`` payloads are queued or running; ``submit`` waits for a slot
beyond that, which slows the caller down instead of growing a queue.

When a worker dies (``BrokenProcessPool``), the pool is rebuilt once and the
batches that were in it are split in halves and run again: a payload that
kills its worker is isolated and, alone, retried up to ``max_crashes`` times
before its future fails with ``WorkerCrashed``. Nothing is dropped silently.

Workers ignore SIGINT (Ctrl-C reaches the whole process group; the crawl
process decides how to stop) and exit when the crawl process disappears, so a
crawl killed outright (SIGKILL, OOM killer) leaves no worker behind. This
module imports no Scrapy: workers load it to run ``_init_worker``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, NoReturn

import psutil

logger = logging.getLogger(__name__)

# How often a worker checks that the crawl process that started it is still there.
_OWNER_POLL_SECONDS = 0.5


class WorkerCrashed(RuntimeError):
    """A payload's worker process died every time the payload was run."""


class PoolClosed(RuntimeError):
    """The pool was stopped (a forced shutdown) before this payload was run."""


class PoolUnusable(RuntimeError):
    """Workers keep dying before finishing any batch: they cannot run here at all."""


# Rebuilds without one batch finishing in between, before the pool is declared unusable
# (a payload that kills workers is isolated in ~log2(batch_size) + max_crashes rebuilds,
# and the other halves finish in between).
MAX_FRUITLESS_RESTARTS = 12


def _init_worker(owner_pid: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_owner, args=(owner_pid,), daemon=True).start()


def _exit_with_owner(owner_pid: int) -> None:
    # Not os.getppid(): a forkserver worker's parent is the forkserver, and it
    # outlives the crawl as long as any worker holds its "alive" pipe open.
    try:
        owner = psutil.Process(owner_pid)
        while owner.is_running() and owner.status() != psutil.STATUS_ZOMBIE:
            time.sleep(_OWNER_POLL_SECONDS)
    except psutil.Error:  # gone
        pass
    os._exit(1)


def _ready() -> None:
    """The warm-up task: returning proves the worker started."""


@dataclass(eq=False)
class _Pending:
    payload: Any
    future: asyncio.Future[Any]
    crashes: int = 0  # batches it was in when the pool broke
    solo_crashes: int = 0  # times the pool broke while it ran alone


@dataclass
class PoolStats:
    batches: int = 0
    batch_size_max: int = 0
    restarts: int = 0
    crashed_payloads: int = 0
    in_flight_max: int = 0


class BatchPool:
    """Runs ``fn(payloads) -> results`` (one result per payload, in order) on a process pool."""

    def __init__(
        self,
        fn: Callable[[list[Any]], list[Any]],
        *,
        workers: int,
        start_method: str = "forkserver",
        batch_size: int = 100,
        max_wait: float = 0.25,
        max_in_flight: int = 1000,
        max_crashes: int = 2,
        preload: tuple[str, ...] = (),
        on_restart: Callable[[], None] | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.fn = fn
        self.workers = workers
        self.batch_size = batch_size
        self.max_wait = max_wait
        self.max_crashes = max_crashes
        self.on_restart = on_restart
        self.on_batch = on_batch
        self.stats = PoolStats()
        self._context = multiprocessing.get_context(start_method)
        if start_method == "forkserver" and preload:
            # Workers fork from a server that has imported these once.
            self._context.set_forkserver_preload(list(preload))
        self._slots = asyncio.Semaphore(max_in_flight)
        self._batch: list[_Pending] = []
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._executor: ProcessPoolExecutor | None = None
        self._generation = 0
        self._fruitless_restarts = 0
        self._unusable = False
        self._warming: asyncio.Future[None] | None = None
        self._closed = False
        self.in_flight = 0
        self._turns = asyncio.Condition()
        self._running = 0  # batches in the pool
        self._solo_running = False
        self._solo_waiting = 0

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        self._executor = self._new_executor()

    def warm_up(self) -> asyncio.Future[None]:
        """Start every worker now, in a thread; batches wait until they are up.

        Starting a worker blocks its caller (the forkserver's first start waits
        for its imports), so neither the event loop nor a batch submission
        should be the one to start it.
        """
        executor = self._executor
        if executor is None:
            self._raise_closed()

        def start_workers() -> None:
            futures = [executor.submit(_ready) for _ in range(self.workers)]
            for future in futures:
                future.result()

        self._warming = asyncio.ensure_future(asyncio.to_thread(start_workers))
        # A pool broken while warming shows on the next submit; mark the error seen here
        # so asyncio does not print "Task exception was never retrieved" at exit.
        self._warming.add_done_callback(lambda f: f.cancelled() or f.exception())
        return self._warming

    async def _workers_started(self) -> None:
        if self._warming is not None and not self._warming.done():
            # Shielded: a cancelled batch must not cancel the shared warm-up.
            with contextlib.suppress(Exception):  # a broken pool shows on submit
                await asyncio.shield(self._warming)

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self._context,
            initializer=_init_worker,
            initargs=(os.getpid(),),
        )

    def worker_pids(self) -> list[int]:
        """Pids of the live workers (started lazily, on the first batches)."""
        from booksscraper.compat import executor_processes  # not in workers: it imports Scrapy

        return [p.pid for p in executor_processes(self._executor) if p.is_alive()]

    async def close(self) -> None:
        """Run everything pending, then stop the workers."""
        while self._batch or self._tasks:
            self._flush()
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self._closed = True
        self.terminate(grace=5.0)

    def terminate(self, grace: float = 0.0) -> None:
        """Stop the workers now (after ``grace`` seconds at most); safe to call twice."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        executor, self._executor = self._executor, None
        if executor is None:
            return
        from booksscraper.compat import executor_processes  # not in workers: it imports Scrapy

        processes = executor_processes(executor)
        executor.shutdown(wait=False)  # its pending futures fail when the workers go
        deadline = time.monotonic() + grace
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join(1.0)

    # -- submitting ------------------------------------------------------------------------
    async def submit(self, payload: Any, *, last: bool = False) -> Any:
        """The result of ``fn`` for ``payload``, computed in a batch with others.

        ``last``: the caller expects no other payload soon (e.g. nothing left to download),
        so the batch goes now instead of waiting ``max_wait`` for more.
        """
        async with self._slots:
            if self._closed:
                self._raise_closed()
            loop = asyncio.get_running_loop()
            pending = _Pending(payload, loop.create_future())
            self._batch.append(pending)
            self.in_flight += 1
            self.stats.in_flight_max = max(self.stats.in_flight_max, self.in_flight)
            if last or len(self._batch) >= self.batch_size:
                self._flush()
            elif self._timer is None:
                self._timer = loop.call_later(self.max_wait, self._flush)
            try:
                return await pending.future
            finally:
                self.in_flight -= 1

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._batch:
            return
        batch, self._batch = self._batch, []
        self.stats.batches += 1
        self.stats.batch_size_max = max(self.stats.batch_size_max, len(batch))
        if self.on_batch is not None:
            self.on_batch(len(batch))
        task = asyncio.ensure_future(self._run(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[_Pending]) -> None:
        try:
            await self._run_batch(batch)
        except asyncio.CancelledError:
            for pending in batch:
                pending.future.cancel()
            raise
        except Exception as exc:
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(exc)

    async def _run_batch(self, batch: list[_Pending]) -> None:
        while True:
            batch = [p for p in batch if not p.future.done()]  # a cancelled caller is gone
            if not batch:
                return
            # A payload that was in a crashed batch runs alone in the pool: if
            # the pool breaks now, it is the culprit, not a bystander.
            solo = len(batch) == 1 and batch[0].crashes > 0
            crashed = failed = False
            await self._workers_started()
            async with self._turn(solo):
                executor, generation = self._executor, self._generation
                if executor is None:
                    self._raise_closed()
                try:
                    future = executor.submit(self.fn, [p.payload for p in batch])
                except BrokenProcessPool:  # broken before this batch ran: not its fault
                    self._restart(generation)
                    continue
                try:
                    results = await asyncio.wrap_future(future)
                except BrokenProcessPool:
                    crashed = True
                except Exception:
                    # Not a crash (e.g. a payload that cannot be pickled): find the
                    # payload at fault by halving; the others go through.
                    if len(batch) == 1:
                        raise
                    failed = True
            if crashed:
                self._restart(generation)
                for pending in batch:
                    pending.crashes += 1
                if solo:
                    batch[0].solo_crashes += 1
                    if batch[0].solo_crashes > self.max_crashes:
                        self.stats.crashed_payloads += 1
                        raise WorkerCrashed(
                            f"its worker died {batch[0].crashes} times, {batch[0].solo_crashes}"
                            " of them with nothing else running"
                        )
                if len(batch) == 1:
                    continue
            if crashed or failed:
                await self._run_halves(batch)
                return
            self._fruitless_restarts = 0
            for pending, result in zip(batch, results, strict=True):
                if not pending.future.done():
                    pending.future.set_result(result)
            return

    @contextlib.asynccontextmanager
    async def _turn(self, solo: bool) -> AsyncIterator[None]:
        """Shared use of the pool for batches; sole use for a suspect payload."""
        async with self._turns:
            if solo:
                self._solo_waiting += 1
                await self._turns.wait_for(lambda: not self._solo_running and not self._running)
                self._solo_waiting -= 1
                self._solo_running = True
            else:
                await self._turns.wait_for(
                    lambda: not self._solo_running and not self._solo_waiting
                )
                self._running += 1
        try:
            yield
        finally:
            if solo:
                self._solo_running = False
            else:
                self._running -= 1
            async with self._turns:
                self._turns.notify_all()

    def _raise_closed(self) -> NoReturn:
        if self._unusable:
            raise PoolUnusable(f"workers died {MAX_FRUITLESS_RESTARTS} times in a row "
                               "without finishing a batch")
        raise PoolClosed("the pool was stopped before this payload was run")

    async def _run_halves(self, batch: list[_Pending]) -> None:
        half = len(batch) // 2
        await asyncio.gather(self._run(batch[:half]), self._run(batch[half:]))

    def _restart(self, generation: int) -> None:
        """Replace a broken pool once, whichever of its batches notices first."""
        if self._closed:
            self._raise_closed()
        if generation != self._generation:
            return
        self._fruitless_restarts += 1
        if self._fruitless_restarts > MAX_FRUITLESS_RESTARTS:
            self._unusable = True
            self.terminate()
            self._raise_closed()
        old, self._executor = self._executor, self._new_executor()
        self._generation += 1
        self.stats.restarts += 1
        logger.warning("a cleanup worker died: process pool rebuilt (restart %d)",
                       self.stats.restarts)
        if old is not None:
            old.shutdown(wait=False)
        self.warm_up()
        if self.on_restart is not None:
            self.on_restart()
