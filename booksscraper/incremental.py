"""Incremental re-crawls: fetch only what changed, and report what changed since the last run.

Settings (defaults in brackets):

- ``INCREMENTAL`` [True]: compare the crawl with the previous run's books and send
  conditional requests. ``False``: a plain full crawl (no state read or written,
  no conditional request). Off on a cluster (``REDIS_URL``), where each worker
  sees part of the catalogue.
- ``INCREMENTAL_CONDITIONAL`` [True]: conditional requests (the HTTP cache below);
  ``False`` keeps the change report but fetches every page in full.
- ``INCREMENTAL_FROM`` [``""``]: the output folder of the run to compare with; its
  state moves into this run's ``OUTPUT_DIR``. Empty: ``OUTPUT_DIR`` itself, or
  under scrapyd (one folder per job, ``output/<job>/``) the sibling job folder
  that holds the newest state.
- ``CHANGES_FILE`` [``"changes.jsonl"``]: in ``OUTPUT_DIR``.

The state is the folder ``OUTPUT_DIR/incremental/`` (``STATE_DIR``): ``books.jsonl``,
the catalogue as last known, ``run.json`` (the start URL and time of the run that
wrote it) and ``httpcache/``. It moves from run to run (a rename); it is advanced
only by a crawl that finished, so an interrupted crawl, resumed with ``JOBDIR`` or
run again, still compares with the last finished one.

What changed (``IncrementalCrawl``, at the end of the crawl): every book of the
output against the state, by UPC, all fields but ``IGNORED_FIELDS``, into
``CHANGES_FILE`` (``{"upc", "url", "change": "new" | "removed" | "changed",
"fields": {name: [old, new]}}``), a summary line in the log, stats
``changes/...`` and a section of the report. A previous book missing from the
output is "removed" only if the crawl finished, no listing page was lost and its
URL was on no listing page; if its page failed or was rejected it is counted as
not checked (``changes/not_checked``) and stays in the state with its last values.

Fetching only what changed (``ConditionalFetch``): Scrapy's own HTTP cache
middleware and filesystem storage keep each page with its validators
(``HTTPCACHE_DIR`` is ``STATE_DIR/httpcache``; ``JsonCacheStorage``: the storage's
metadata as JSON, not pickle); ``RevalidatePolicy`` sends every
request with ``If-None-Match`` / ``If-Modified-Since`` and a 304 hands the stored
page to the spider, which yields the same item again. Pages without validators
are not stored and are fetched in full; the change report is the same.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.httpcache import HttpCacheMiddleware
from scrapy.exceptions import NotConfigured
from scrapy.extensions.httpcache import FilesystemCacheStorage, RFC2616Policy
from scrapy.http import Response
from scrapy.settings import BaseSettings, Settings
from scrapy.spiders import Spider
from scrapy.utils.response import response_from_dict
from w3lib.http import headers_dict_to_raw, headers_raw_to_dict

from booksscraper.dedup.keyset import KeySet
from booksscraper.extraction.validation import upc_key
from booksscraper.output.errors import OutputError, stop_on_output_error
from booksscraper.output.folder import output_path
from booksscraper.output.jsonlines import dumps, iter_json_lines, replace_atomically
from booksscraper.output.resume import CRAWL_STATE
from booksscraper.spiders.books import LISTINGS_LOST

logger = logging.getLogger(__name__)

STATE_DIR = "incremental"
STATE_BOOKS = "books.jsonl"
STATE_RUN = "run.json"
CACHE_DIR = "httpcache"
# Not compared: when the book was scraped, and which earlier book it resembles (crawl order).
IGNORED_FIELDS = ("scraped_at", "near_duplicate_of")
SUMMARY_STAT = "changes/summary"


def enabled(settings: BaseSettings) -> bool:
    return (settings.getbool("INCREMENTAL", True) and not settings.get("REDIS_URL")
            and settings.getbool("OUTPUT_ENABLED", True))  # not for a look at one page


def state_dir(settings: BaseSettings) -> Path:
    return Path(settings.get("OUTPUT_DIR") or "output") / STATE_DIR


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    """``{name: [old, new]}`` for every field that differs, ``IGNORED_FIELDS`` aside."""
    names = [k for k in old if k not in new] + list(new)
    return {k: [old.get(k), new.get(k)] for k in names
            if k not in IGNORED_FIELDS and old.get(k) != new.get(k)}


def format_changes(counts: dict[str, int], fields: Counter[str]) -> str:
    """``12 new, 3 removed, 41 changed: price 30, availability 14``, and what was not checked."""
    line = f"{counts['new']} new, {counts['removed']} removed, {counts['changed']} changed"
    if fields:
        line += ": " + ", ".join(f"{name} {n}" for name, n in fields.most_common())
    if counts.get("not_checked"):
        line += (f"; {counts['not_checked']} not checked (their pages failed or were "
                 "rejected: see failures.jsonl, rejects.jsonl)")
    if counts.get("unconfirmed"):
        line += (f"; {counts['unconfirmed']} not seen but not counted removed (the crawl did "
                 "not finish, or a listing page was lost)")
    return line


def report_section(stats: dict[str, Any]) -> list[str]:
    """The report's section on what changed since the last run (empty when not compared)."""
    summary = stats.get(SUMMARY_STAT)
    if summary is None:
        return []
    rows = sorted((key.removeprefix("changes/field/"), value) for key, value in stats.items()
                  if key.startswith("changes/field/"))
    lines = ["## Changes since the last run", "", summary, ""]
    if rows:
        lines += ["| Field | Books |", "| --- | --- |", *(f"| {k} | {v} |" for k, v in rows), ""]
    lines += ["One line per book in `changes.jsonl`.", ""]
    return lines


class RevalidatePolicy(RFC2616Policy):
    """RFC2616Policy that asks the server every time, and trusts only a 304.

    - A stored page is never fresh: every request goes out, with the stored
      ETag / Last-Modified. The site sends no Cache-Control or Expires, so
      RFC2616Policy would fall back to a heuristic (a tenth of the time since
      Last-Modified) and serve pages from the cache without asking: a re-crawl
      would miss changes.
    - Only a 304 reuses the stored page: RFC2616Policy also reuses it on a 5xx,
      which would hide a failed page behind old data.
    """

    def is_cached_response_fresh(self, cachedresponse: Response, request: Request) -> bool:
        self._set_conditional_validators(request, cachedresponse)
        return False

    def is_cached_response_valid(self, cachedresponse: Response, response: Response,
                                 request: Request) -> bool:
        return response.status == 304


class JsonCacheStorage(FilesystemCacheStorage):
    """Scrapy's filesystem cache storage (same folders, same files), without pickle.

    Scrapy's keeps metadata pickled and unpickles it on every read: whoever can write
    to the output folder could run code in the crawl. Here the metadata is JSON
    (``meta.json``, written last, so a torn entry is a miss) and the response class
    is guessed from the headers as Scrapy does for entries without one.
    """

    def retrieve_response(self, spider: Spider, request: Request) -> Response | None:
        folder = Path(self._get_request_path(spider, request))
        try:
            with self._open(folder / "meta.json", "rb") as f:
                meta = json.loads(f.read())
            with self._open(folder / "response_headers", "rb") as f:
                headers = headers_raw_to_dict(f.read())
            with self._open(folder / "response_body", "rb") as f:
                body = f.read()
        except FileNotFoundError:
            return None
        request.meta["cache_timestamp"] = meta["timestamp"]
        return response_from_dict({"url": meta["response_url"], "status": meta["status"],
                                   "headers": headers, "body": body})

    def store_response(self, spider: Spider, request: Request, response: Response) -> None:
        folder = Path(self._get_request_path(spider, request))
        folder.mkdir(parents=True, exist_ok=True)
        with self._open(folder / "response_headers", "wb") as f:
            f.write(headers_dict_to_raw(response.headers))
        with self._open(folder / "response_body", "wb") as f:
            f.write(response.body)
        meta = {"url": request.url, "method": request.method, "status": response.status,
                "response_url": response.url, "timestamp": time.time()}
        with self._open(folder / "meta.json", "wb") as f:
            f.write(json.dumps(meta).encode())


class ConditionalFetch(HttpCacheMiddleware):
    """Scrapy's HTTP cache middleware on the incremental state, with ``RevalidatePolicy``.

    On for ``INCREMENTAL`` and ``INCREMENTAL_CONDITIONAL``, whatever ``HTTPCACHE_ENABLED``
    says (that switch stays Scrapy's own cache, for development). Unlike Scrapy's, a
    download error is an error: the stored page is not served in its place.
    """

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalFetch:
        settings = crawler.settings
        if not enabled(settings) or not settings.getbool("INCREMENTAL_CONDITIONAL", True):
            raise NotConfigured
        if settings.getbool("HTTPCACHE_ENABLED"):
            logger.warning("HTTPCACHE_ENABLED is set: Scrapy's HTTP cache is used as configured, "
                           "and incremental crawls send no conditional requests of their own")
            raise NotConfigured
        ours = Settings(settings.copy_to_dict())  # the crawler's are frozen
        ours.set("HTTPCACHE_ENABLED", True)
        ours.set("HTTPCACHE_POLICY", f"{__name__}.RevalidatePolicy")
        ours.set("HTTPCACHE_STORAGE", f"{__name__}.JsonCacheStorage")
        ours.set("HTTPCACHE_DIR", str((state_dir(settings) / CACHE_DIR).resolve()))
        ours.set("HTTPCACHE_IGNORE_MISSING", False)
        ours.set("HTTPCACHE_EXPIRATION_SECS", 0)
        o = cls(ours, crawler.stats)
        crawler.signals.connect(o.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(o.spider_closed, signal=signals.spider_closed)
        o.crawler = crawler
        return o

    def _cache_response(self, response: Response, request: Request) -> None:
        try:
            super()._cache_response(response, request)
        except OSError as exc:  # the cache is in OUTPUT_DIR: a full disk stops the crawl (exit 4)
            stop_on_output_error(self.crawler, OutputError(self.storage.cachedir, exc))

    def process_exception(self, request: Request, exception: Exception,  # type: ignore[override]
                          spider: Any = None) -> None:
        request.meta.pop("cached_response", None)
        return None


class IncrementalCrawl:
    """Hands the state over at start-up; compares and writes the change report at the end."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        settings = crawler.settings
        self.state = state_dir(settings)
        self.changes_path = output_path(settings, "CHANGES_FILE")
        self.changes_path.unlink(missing_ok=True)  # it describes the latest run only
        self.take_over(settings)
        self.previous_run = self._read_run()
        start_url = getattr(crawler.spider, "start_url", None)
        if self.previous_run and self.previous_run.get("start_url") not in (None, start_url):
            # Another scope (a category is not the catalogue minus every other book), or the
            # sandbox on another port: nothing to compare, nothing in the cache to reuse.
            logger.info("incremental: the previous run crawled %s, this one %s: not compared",
                           self.previous_run["start_url"], start_url)
            shutil.rmtree(self.state, ignore_errors=True)
            self.previous_run = None
        crawler.signals.connect(self.engine_stopped, signal=signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IncrementalCrawl:
        if not enabled(crawler.settings):
            if crawler.settings.get("REDIS_URL") and crawler.settings.getbool("INCREMENTAL", True):
                logger.info("incremental crawls are not supported on a cluster yet: full crawl")
            # No comparison this run: a changes file of an earlier run would pass for this one's.
            output_path(crawler.settings, "CHANGES_FILE").unlink(missing_ok=True)
            raise NotConfigured
        return cls(crawler)

    # -- start-up: find the previous run -------------------------------------------------------
    def take_over(self, settings: BaseSettings) -> None:
        """Move the previous run's state here (``INCREMENTAL_FROM``, or the scrapyd rule)."""
        source = self._source(settings)
        if source is not None and source.resolve() != self.state.resolve():
            try:
                if self.state.exists():
                    shutil.rmtree(self.state)
                self.state.parent.mkdir(parents=True, exist_ok=True)  # a new job's folder
                os.replace(source, self.state)
                logger.info("incremental: comparing with the previous run's state from %s",
                            source)
            except FileNotFoundError:
                pass  # another job took it first: a full crawl and a report without comparison
            except OSError as exc:
                logger.warning("incremental: cannot take the state from %s (%s): full crawl",
                               source, exc.strerror)
        if not (self.state / STATE_BOOKS).exists():
            self._from_books_json(settings)

    def _source(self, settings: BaseSettings) -> Path | None:
        explicit = settings.get("INCREMENTAL_FROM")
        if explicit:
            path = Path(explicit) / STATE_DIR
            if not path.is_dir():
                logger.warning("INCREMENTAL_FROM: %s holds no incremental state", explicit)
                return None
            return path
        if self.state.is_dir():
            return self.state
        jobs_dir = getattr(self.crawler.spider, "jobs_dir", None)  # set under scrapyd
        if jobs_dir is None:
            return None
        candidates = [(run.stat().st_mtime, run.parent)
                      for run in Path(jobs_dir).glob(f"*/{STATE_DIR}/{STATE_RUN}")]
        return max(candidates)[1] if candidates else None

    def _from_books_json(self, settings: BaseSettings) -> None:
        """An output folder of a finished run from before the state existed: its books.json."""
        books = output_path(settings, "OUTPUT_JSON")
        stats = output_path(settings, "STATS_FILE")
        try:
            finished = json.loads(stats.read_text(encoding="utf-8")).get("finish_reason")
            records = json.loads(books.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if finished != "finished" or not isinstance(records, list):
            return
        self.state.mkdir(parents=True, exist_ok=True)
        replace_atomically(self.state / STATE_BOOKS,
                           lambda f: f.writelines(dumps(r) + "\n" for r in records))
        logger.info("incremental: comparing with %s (%d books)", books, len(records))

    def _read_run(self) -> dict[str, Any] | None:
        if not (self.state / STATE_BOOKS).exists():
            return None
        try:
            return json.loads((self.state / STATE_RUN).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # books from a books.json: the start URL is not known

    # -- the end: compare ----------------------------------------------------------------------
    def engine_stopped(self) -> None:
        stats = self.crawler.stats
        spider = self.crawler.spider
        finished = stats.get_value("finish_reason") == "finished"
        start_url = getattr(spider, "start_url", None)
        try:
            if self.previous_run is None:
                if finished:
                    logger.info("incremental: no previous run to compare with; this run's books "
                                "are the state the next run compares with")
                    self._write_state(iter(()), start_url)
                return
            self._compare(finished, start_url)
        except OutputError as exc:
            stop_on_output_error(self.crawler, exc)
            return
        jobdir = self.crawler.settings.get("JOBDIR")
        if finished and jobdir:
            # The job is done: the same JOBDIR next time is the next run, not a resume of this one.
            for name in CRAWL_STATE:
                path = Path(jobdir, name)
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)

    def _compare(self, finished: bool, start_url: str | None) -> None:
        settings, stats = self.crawler.settings, self.crawler.stats
        old_books = {r.get("upc"): r for r in iter_json_lines(self.state / STATE_BOOKS)}
        stats.set_value("changes/previous_books", len(old_books))
        records: list[dict[str, Any]] = []
        fields: Counter[str] = Counter()
        counts = Counter({"new": 0, "removed": 0, "changed": 0})
        seen = KeySet()
        for new in iter_json_lines(output_path(settings, "OUTPUT_JSONL")):
            if not seen.add(upc_key(new.get("upc"))):
                continue  # a second copy export dropped
            old = old_books.pop(new.get("upc"), None)
            if old is None:
                counts["new"] += 1
                records.append(_record(new, "new", {}))
                continue
            diff = changed_fields(old, new)
            if diff:
                counts["changed"] += 1
                fields.update(list(diff))
                records.append(_record(new, "changed", diff))
        unseen = self._unseen(finished)
        carried: list[dict[str, Any]] = []
        for old in old_books.values():
            verdict = unseen(old.get("url"))
            if verdict == "removed":
                counts["removed"] += 1
                records.append(_record(old, "removed", {}))
            else:
                counts[verdict] += 1
                carried.append(old)  # its last known values stay in the state
        replace_atomically(self.changes_path,
                           lambda f: f.writelines(dumps(r) + "\n" for r in records))
        for key, value in counts.items():
            stats.set_value(f"changes/{key}", value)
        for name, value in fields.items():
            stats.set_value(f"changes/field/{name}", value)
        summary = format_changes(counts, fields)
        stats.set_value(SUMMARY_STAT, summary)
        logger.info("Changes since the last run: %s -> %s", summary, self.changes_path)
        if finished:
            self._write_state(iter(carried), start_url)

    def _unseen(self, finished: bool):
        """What a previous book missing from the output is: removed, not checked, unconfirmed."""
        settings = self.crawler.settings
        failed = {r.get("url") for r in iter_json_lines(output_path(settings, "FAILURES_FILE"))}
        failed |= {r.get("url") for r in iter_json_lines(output_path(settings, "REJECTS_FILE"))}
        listed = getattr(self.crawler.spider, "listed", None)
        sure = (finished and listed is not None
                and not self.crawler.stats.get_value(LISTINGS_LOST))

        def verdict(url: str | None) -> str:
            if url in failed:
                return "not_checked"
            if not sure or url in listed:  # type: ignore[operator]
                return "unconfirmed"
            return "removed"

        return verdict

    def _write_state(self, carried: Iterator[dict[str, Any]], start_url: str | None) -> None:
        """The state for the next run: this run's books, and the carried-over ones."""
        settings = self.crawler.settings
        self.state.mkdir(parents=True, exist_ok=True)
        seen = KeySet()

        def write(f: IO[str]) -> None:
            for record in iter_json_lines(output_path(settings, "OUTPUT_JSONL")):
                if seen.add(upc_key(record.get("upc"))):
                    f.write(dumps(record) + "\n")
            for record in carried:
                if seen.add(upc_key(record.get("upc"))):
                    f.write(dumps(record) + "\n")

        replace_atomically(self.state / STATE_BOOKS, write)
        run = {"start_url": start_url, "books": len(seen),
               "finished_at": datetime.now(UTC).isoformat(timespec="seconds")}
        replace_atomically(self.state / STATE_RUN, lambda f: f.write(json.dumps(run) + "\n"))


def _record(book: dict[str, Any], change: str, fields: dict[str, list[Any]]) -> dict[str, Any]:
    return {"upc": book.get("upc"), "url": book.get("url"), "change": change, "fields": fields}
