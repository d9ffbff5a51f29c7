"""Resume-safe crawls with JOBDIR, even after ``kill -9`` or a full disk.

The design is in docs/crawling.md ("Resuming"): every resumed run starts from the output,
not from Scrapy's request queue, which can lie after a kill.

- ``ResumeGuard`` (an extension, on with ``JOBDIR``) discards the previous run's crawl
  state (stat ``resume/discarded_state``), leaves a marker while the crawl runs (a killed
  crawl is named in the log) and clears the JOBDIR when the crawl finishes.
- ``job_resumed``: whether this crawl resumes an unfinished job, decided once.
- ``exported_before``: the books earlier runs of the job exported, read once from
  ``OUTPUT_JSONL`` for the spider (which skips them) and the export pipeline (which drops a
  second copy of a UPC), as 64-bit keys (``UrlSet``: ~20 bytes a URL). Two URLs share a
  key with probability ~n**2 / 2**65; a book whose URL collided would be skipped.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.settings import BaseSettings

from booksscraper.config.errors import BadConfig
from booksscraper.dedup.keyset import KeySet, key64
from booksscraper.extraction.validation import upc_key
from booksscraper.output.folder import output_path
from booksscraper.output.jsonlines import iter_json_lines
from booksscraper.records.shared import shared

logger = logging.getLogger(__name__)

MARKER = "booksscraper.running"
# Scrapy's crawl state in JOBDIR: replaced by what the output says on every resume.
CRAWL_STATE = ("requests.queue", "requests.seen", "spider.state")


class UrlSet:
    """URLs as 64-bit keys (``in``, ``len``, ``keys``): ~20 bytes a URL, not ~150 as strings."""

    def __init__(self, urls: Iterable[str] = ()) -> None:
        self._keys = KeySet()
        for url in urls:
            self.add(url)

    def add(self, url: str) -> None:
        self._keys.add(key64(url))

    def __contains__(self, url: object) -> bool:
        return isinstance(url, str) and key64(url) in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def keys(self) -> Iterator[int]:
        """The 64-bit keys (``dedup.keyset.key64``) of the URLs: the URLs themselves are gone."""
        return iter(self._keys)


class ExportedBooks(UrlSet):
    """Books earlier runs of this JOBDIR exported: their URLs (``in``, ``len``) and UPC keys."""

    def __init__(self, resumed: bool = True) -> None:
        super().__init__()
        self.upc_keys = KeySet()  # ``validation.upc_key`` of each exported UPC
        self.resumed = resumed  # False: a new job, OUTPUT_JSONL is written afresh
        self.skipped_lines = 0  # lines of OUTPUT_JSONL that are not records (torn, damaged)


def job_started(jobdir: Path) -> bool:
    """Whether an unfinished earlier run used this JOBDIR (it left crawl state or its marker)."""
    return any((jobdir / name).exists() for name in (*CRAWL_STATE, MARKER))


def job_resumed(crawler: Crawler) -> bool:
    """Whether this crawl resumes an unfinished ``JOBDIR`` job; decided once, before it runs."""
    def decide(c: Crawler) -> bool:
        jobdir = c.settings.get("JOBDIR")
        return bool(jobdir) and job_started(Path(jobdir))

    return shared(crawler, decide, job_resumed)


def already_exported(settings: BaseSettings) -> ExportedBooks:
    """What earlier runs of this JOBDIR exported, read from ``OUTPUT_JSONL``."""
    books = ExportedBooks()

    def skipped() -> None:
        books.skipped_lines += 1

    for record in iter_json_lines(output_path(settings, "OUTPUT_JSONL"), skipped):
        if record.get("url"):
            books.add(record["url"])
        if "upc" in record:
            books.upc_keys.add(upc_key(record["upc"]))
    return books


def exported_before(crawler: Crawler) -> ExportedBooks:
    """``already_exported``, read once per crawl for the spider and the export pipeline."""
    def read(c: Crawler) -> ExportedBooks:
        if not job_resumed(c):
            return ExportedBooks(resumed=False)  # a new job: nothing of it exported yet
        return already_exported(c.settings)

    return shared(crawler, read, exported_before)


def clear_job(jobdir: Path) -> None:
    """Scrapy's crawl state and the marker gone: the JOBDIR's next crawl is a new one."""
    for name in (*CRAWL_STATE, MARKER):
        path = jobdir / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


class ResumeGuard:
    def __init__(self, crawler: Crawler, jobdir: Path) -> None:
        job_resumed(crawler)  # decided before this run leaves its marker
        skipped = exported_before(crawler).skipped_lines
        if skipped:
            logger.warning("%s: %d lines are not records (torn or damaged): skipped",
                           output_path(crawler.settings, "OUTPUT_JSONL"), skipped)
            crawler.stats.set_value("resume/skipped_lines", skipped)
        self.crawler, self.jobdir = crawler, jobdir
        self.marker = jobdir / MARKER
        if self.marker.exists():
            logger.warning("JOBDIR %s: the previous crawl did not stop cleanly (killed?)", jobdir)
            crawler.stats.set_value("resume/discarded_unclean_state", 1)
        found = [jobdir / name for name in CRAWL_STATE if (jobdir / name).exists()]
        if found:
            logger.info(
                "JOBDIR %s: resuming from the output: walking the listings again, "
                "skipping exported books, fetching everything else again", jobdir,
            )
            for path in found:
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            crawler.stats.set_value("resume/discarded_state", 1)
        try:
            jobdir.mkdir(parents=True, exist_ok=True)
            self.marker.write_text(str(os.getpid()))
        except OSError as exc:
            raise BadConfig(f"JOBDIR: cannot use {jobdir}: {exc.strerror}") from None
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ResumeGuard:
        jobdir = crawler.settings.get("JOBDIR")
        if not jobdir:
            raise NotConfigured
        return cls(crawler, Path(jobdir))

    def spider_closed(self) -> None:
        # Scrapy has written its queue and spider state by now (the scheduler closes first,
        # SpiderState's handler runs before this one).
        if self.crawler.stats.get_value("finish_reason") == "finished":
            clear_job(self.jobdir)
        self.marker.unlink(missing_ok=True)
