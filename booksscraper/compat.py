"""Where booksscraper reaches past Scrapy's, Twisted's and the stdlib's public API, in one place.

Every private attribute we read and every Scrapy behaviour we work around is here, each
with its reason; tests/reliability/test_compat.py shows the behaviour each one depends
on (or works around), so an upgrade that changes or fixes it fails a test instead of a
crawl. Nothing else in booksscraper reads a private attribute of Scrapy, Twisted or
``concurrent.futures``.
"""

from __future__ import annotations

from collections.abc import Coroutine
from time import monotonic
from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy.core.downloader import Downloader, Slot
from scrapy.core.engine import ExecutionEngine
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import _schedule_coro
from twisted.internet import tcp
from twisted.internet.interfaces import IReactorFDSet

if TYPE_CHECKING:  # the pool module imports them when a pool starts
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing.process import BaseProcess

# -- Twisted: connections a stopping crawl must not wait for ---------------------------


def abort_client_connections(reactor: IReactorFDSet) -> int:
    """Abort every outgoing TCP connection of this process; how many there were.

    Scrapy closes a spider only when every download in progress has ended, and a
    download can only end by itself or by its DOWNLOAD_TIMEOUT: a hung server keeps a
    stopping crawl open for that long. Scrapy's download handlers keep no public list
    of their connections, but the reactor knows every socket it watches.
    """
    clients = {
        selectable
        for selectable in (*reactor.getReaders(), *reactor.getWriters())
        if isinstance(selectable, tcp.Client)
    }
    for client in clients:
        client.abortConnection()
    return len(clients)


# -- Scrapy's exceptions: told apart by their messages ----------------------------------


def over_maxsize(exception: BaseException) -> bool:
    """Whether a download failed for being over DOWNLOAD_MAXSIZE.

    Scrapy says so in the message when Content-Length announces the size, but a body
    without it (chunked) that grows past the limit is cancelled with no message at
    all (the size is only in a WARNING). Nothing else of ours or Scrapy's cancels a
    download. tests/reliability/test_hostile_pages.py fetches both kinds of page.
    """
    if not isinstance(exception, DownloadCancelledError):
        return False
    message = str(exception)
    return not message or "max size" in message


# IgnoreRequest carries no type of its own: the text of Scrapy 2.19's messages tells the
# cases apart (HttpCompressionMiddleware, RedirectMiddleware, OffsiteMiddleware,
# RobotsTxtMiddleware, in that order).
SCRAPY_IGNORED = (
    ("during decompression", "maxsize_decompressed"),
    ("max redirections", "redirect_max"),
    ("offsite", "offsite"),
    ("robots.txt", "robots_txt"),
)


def ignored_reason(exception: BaseException) -> str | None:
    """Our short reason for an IgnoreRequest Scrapy raised, or None if we do not know it."""
    if not isinstance(exception, IgnoreRequest):
        return None
    message = str(exception)
    for text, reason in SCRAPY_IGNORED:
        if text in message:
            return reason
    return None


# Scrapy's RobotsTxtMiddleware logs a failed robots.txt download with its traceback on
# this logger (its module's); booksscraper.extensions.quietlogs filters it.
ROBOTS_LOGGER = "scrapy.downloadermiddlewares.robotstxt"


# -- Scrapy's engine: its private _slot ---------------------------------------------------
# Scrapy has no signal for "this request is completely handled" and no public way to wake
# the engine or to ask whether it is closing; ``engine._slot`` (``scrapy.core.engine._Slot``)
# holds all three.


def engine_closing(engine: ExecutionEngine | None) -> bool:
    """Whether the engine has started closing its spider."""
    slot = getattr(engine, "_slot", None)
    return slot is not None and slot.closing is not None


def requests_in_progress(engine: ExecutionEngine | None) -> list[Request]:
    """Every request from its download until its callback's output is processed."""
    slot = getattr(engine, "_slot", None)
    return list(slot.inprogress) if slot is not None else []


def wake_engine(engine: ExecutionEngine | None) -> None:
    """Have the engine pull from its scheduler now, not at its next 5-second heartbeat."""
    slot = getattr(engine, "_slot", None)
    if slot is not None and slot.closing is None:
        slot.nextcall.schedule()


def check_engine(engine: ExecutionEngine | None) -> None:
    """Raise RuntimeError if the engine does not have what the functions above read."""
    slot = getattr(engine, "_slot", None)
    if slot is None or not all(hasattr(slot, a) for a in ("inprogress", "closing", "nextcall")):
        raise RuntimeError("booksscraper needs Scrapy's engine._slot (Scrapy 2.19)")


def schedule_coro(coro: Coroutine[Any, Any, Any]) -> None:
    """Run ``coro`` as a task of the reactor's loop, fire and forget (Scrapy's own helper)."""
    _schedule_coro(coro)


# -- concurrent.futures: the pool's worker processes ------------------------------------


def executor_processes(executor: ProcessPoolExecutor | None) -> list[BaseProcess]:
    """The worker processes of a ProcessPoolExecutor (started lazily, so maybe none yet).

    ``_processes`` (pid -> Process) is private but stable since Python 3.2, and the only
    handle on the workers: to report their pids and to kill them on a forced stop.
    """
    return list((getattr(executor, "_processes", None) or {}).values())


# -- Scrapy's downloader: per-slot concurrency during a burst --------------------------


class PerSlotLimitDownloader(Downloader):
    """Scrapy's downloader with CONCURRENT_REQUESTS_PER_DOMAIN enforced during bursts.

    Scrapy 2.19 under the asyncio reactor: ``Downloader._process_queue`` pops
    requests while ``slot.free_transfer_slots() > 0``, but each popped request is
    only added to ``slot.transferring`` when its download task starts, on a later
    loop turn. A burst therefore drains the whole slot queue at once: with
    ``CONCURRENT_REQUESTS=64`` and ``CONCURRENT_REQUESTS_PER_DOMAIN=4`` the server
    saw 60 requests in flight. This subclass counts a request as transferring when
    it is popped (docs/upstream-per-slot-concurrency.md: the report for Scrapy).
    ``popped`` is the hook for subclasses: called with each request as it leaves the
    slot's queue, with the seconds it waited there (``_enqueue_request``, also private,
    is wrapped to know when it arrived).
    """

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self._entered: dict[Request, float] = {}  # request -> when it reached the downloader

    async def _enqueue_request(self, request: Request) -> Any:
        self._entered[request] = monotonic()
        try:
            return await super()._enqueue_request(request)
        finally:
            self._entered.pop(request, None)

    def popped(self, slot: Slot, request: Request, waited: float) -> None:
        """A request leaves ``slot``'s queue for download after ``waited`` seconds there."""

    def _process_queue(self, slot: Slot) -> None:
        # Scrapy 2.19's method, but for the marked line (and the hook).
        if slot.latercall:
            return
        now = monotonic()
        delay = slot.download_delay()
        if delay:
            penalty = delay - now + slot.lastseen
            if penalty > 0:
                slot.latercall = call_later(penalty, self._latercall, slot)
                return
        while slot.queue and slot.free_transfer_slots() > 0:
            slot.lastseen = now
            request, queue_dfd = slot.queue.popleft()
            self.popped(slot, request, now - self._entered.get(request, now))
            slot.transferring.add(request)  # the fix: taken now, not when the task starts
            _schedule_coro(self._wait_for_download(slot, request, queue_dfd))
            if delay:
                self._process_queue(slot)
                break


# -- Scrapy's HTTP cache middleware: the stored page it serves on a download error ------

# HttpCacheMiddleware keeps the stored page of a request it revalidates in this meta key,
# and its process_exception serves it when the download fails: an incremental crawl
# removes it so that a failure stays a failure (booksscraper.incremental.fetch).
CACHED_RESPONSE = "cached_response"
