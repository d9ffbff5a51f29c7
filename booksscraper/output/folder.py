"""Where a crawl writes: ``OUTPUT_DIR``, untouched until the crawl has something to write.

- ``OUTPUT_DIR``: folder of every output file; relative to the working directory (under
  scrapyd, the job's working directory).
- ``OUTPUT_JSONL``, ``OUTPUT_JSON``, ``REJECTS_FILE``, ``FAILURES_FILE``: file names, in
  ``OUTPUT_DIR``.
- ``OUTPUT_ENABLED``: off writes nothing; the project's ``shell``, ``parse``, ``check``,
  ``fetch`` and ``view`` commands turn it off, so a look at a page never touches ``OUTPUT_DIR``.

``OutputFolder``: the crawl's first record of any file (a book, a reject, a failure, a
resource sample, the stats at close) first creates ``OUTPUT_DIR`` and removes every file of
the previous crawl (those above, ``STATS_FILE``, ``MONITOR_FILE`` and ``report.md``; when
resuming, not the books files nor the samples), so the folder never holds a mix of two
crawls, then opens every JSON lines file of the crawl (an empty file is this crawl's: no
books, no rejects, even after a kill -9). Every file lives in ``OUTPUT_DIR``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings

from booksscraper.config.declared import default
from booksscraper.config.errors import BadConfig
from booksscraper.config.readers import boolean
from booksscraper.output.errors import OutputError
from booksscraper.records.shared import shared

if TYPE_CHECKING:
    from booksscraper.output.jsonlines import JsonLinesWriter

# The settings that name the output files (defaults in booksscraper.config.declared).
FILE_SETTINGS = (
    "OUTPUT_JSONL", "OUTPUT_JSON", "REJECTS_FILE", "FAILURES_FILE", "MONITOR_FILE", "STATS_FILE",
    "CHANGES_FILE", "ALERTS_FILE",
)


def output_path(settings: BaseSettings, name: str) -> Path:
    """The path of output file ``name`` (one of FILE_SETTINGS), checked writable.

    Every output file lives in ``OUTPUT_DIR``, temporary files included: a name that
    leads out of it, or to a folder, is a BadConfig. Nothing is left behind here
    (``OutputFolder.start`` makes the folder at the first record): a folder that does not
    exist yet is made and removed again, to know at start-up that it can be.
    """
    folder = output_folder(settings)
    check_creatable(folder, "OUTPUT_DIR")
    if not os.access(folder, os.W_OK) and folder.exists():
        raise BadConfig(f"OUTPUT_DIR: folder {folder} is not writable")
    path = folder / (settings.get(name) or default(name))
    if not path.resolve().is_relative_to(folder.resolve()):
        raise BadConfig(f"{name}: {path} is outside OUTPUT_DIR {folder}; give a file name in it")
    if path.is_dir():
        raise BadConfig(f"{name}: {path} is a folder; give a file name")
    check_creatable(path.parent, name)
    if (path.parent.exists() and not os.access(path.parent, os.W_OK)) or (
        path.exists() and not os.access(path, os.W_OK)
    ):
        raise BadConfig(f"{name}: output path {path} is not writable")
    return path


def output_folder(settings: BaseSettings) -> Path:
    return Path(settings.get("OUTPUT_DIR") or default("OUTPUT_DIR"))


def check_creatable(folder: Path, name: str) -> None:
    """BadConfig unless ``folder`` exists or can be made; a folder made to find out is removed.

    Only the real thing tells (``/proc`` says writable to root, and refuses every mkdir).
    """
    if folder.is_dir():
        return
    missing = []
    parent = folder
    while not parent.exists() and parent.parent != parent:
        missing.append(parent)
        parent = parent.parent
    try:
        folder.mkdir(parents=True)
    except OSError as exc:
        raise BadConfig(f"{name}: cannot create folder {folder}: {exc.strerror}") from None
    for made in missing:  # deepest first: the look leaves nothing behind
        made.rmdir()


class OutputFolder:
    """``OUTPUT_DIR`` of one crawl: untouched until its first record, then this crawl's alone.

    ``start()`` (called by every writer before its first record) creates the folder and
    removes the previous crawl's files, once; with ``OUTPUT_ENABLED`` off nothing is
    written at all.
    """

    # What a resumed crawl (JOBDIR) goes on adding to: the previous run's are kept.
    KEPT_ON_RESUME = ("OUTPUT_JSONL", "OUTPUT_JSON", "MONITOR_FILE")

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.enabled = boolean(settings, "OUTPUT_ENABLED")
        self.folder = output_folder(settings)
        resuming = bool(settings.get("JOBDIR"))
        self.previous = [self.folder / "report.md"] + [
            self.folder / (settings.get(name) or default(name))
            for name in FILE_SETTINGS
            if not (resuming and name in self.KEPT_ON_RESUME)
        ]
        self.started = False
        self.writers: list[JsonLinesWriter] = []

    @classmethod
    def for_crawler(cls, crawler: Crawler) -> OutputFolder:
        return shared(crawler, cls, "_booksscraper_output_folder")

    def start(self) -> None:
        """Before the crawl's first record: the folder made, the previous crawl's files gone."""
        if self.started:
            return
        self.started = True
        path = self.folder
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for path in self.previous:
                path.unlink(missing_ok=True)
        except OSError as exc:
            raise OutputError(path, exc) from exc
        for writer in self.writers:  # the crawl's set of files from now on, as a kill -9 leaves it
            writer.open()
