"""Where a crawl writes: ``OUTPUT_DIR``, and how one crawl's files replace the last one's.

- ``OUTPUT_DIR``: folder of every output file; relative to the working directory (under
  scrapyd, the job's working directory).
- ``OUTPUT_JSONL``, ``OUTPUT_JSON``, ``REJECTS_FILE``, ``FAILURES_FILE``: file names, in
  ``OUTPUT_DIR``.
- ``OUTPUT_ENABLED``: off writes nothing; the project's ``shell``, ``parse``, ``check``,
  ``fetch`` and ``view`` commands turn it off, so a look at a page never touches ``OUTPUT_DIR``.

``OutputFolder``: nothing of a previous crawl is destroyed before its replacement exists.
The crawl's first record of any file (a book, a reject, a failure, a resource sample, the
stats at close) moves the previous crawl's files (those above, ``STATS_FILE``,
``MONITOR_FILE``, ``report.md``...; when resuming a ``JOBDIR`` crawl, only the files of the
latest run) into ``OUTPUT_DIR/previous/``, writes ``STATS_FILE`` with ``output/status``
``running``, then opens every JSON lines file of the crawl, so the folder never holds a mix
of two crawls. At the end (``settle``):

- a crawl that finished: ``previous/`` is removed; ``output/status`` ``complete``;
- a crawl that stopped early (Ctrl-C, SIGTERM, a limit, an error) with books of its own:
  they stay, ``output/status`` ``partial``; ``previous/`` keeps the last finished crawl
  until a crawl finishes;
- a crawl that stopped before its first book: its files go, the previous ones come back;
- a crawl killed (``kill -9``): its files as they were, ``STATS_FILE`` says ``running``,
  ``previous/`` the last finished crawl. The next crawl starts from there (a move cut short
  by a crash is rolled back first).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings

from booksscraper.config.declared import default
from booksscraper.config.errors import BadConfig
from booksscraper.config.readers import boolean
from booksscraper.output.errors import OutputError, stopping_on_output_error
from booksscraper.output.jsonlines import TEMPORARY, dumps, replace_atomically
from booksscraper.records.shared import shared

if TYPE_CHECKING:
    from booksscraper.output.jsonlines import JsonLinesWriter

logger = logging.getLogger(__name__)

# The settings that name the output files (defaults in booksscraper.config.declared).
FILE_SETTINGS = (
    "OUTPUT_JSONL", "OUTPUT_JSON", "REJECTS_FILE", "FAILURES_FILE", "MONITOR_FILE", "STATS_FILE",
    "CHANGES_FILE", "ALERTS_FILE",
)
PREVIOUS_DIR = "previous"
_MOVING = ".previous.moving"  # the previous files on their way into PREVIOUS_DIR
# The stat (and key of STATS_FILE) saying what the folder holds: running, complete, partial.
STATUS = "output/status"


def output_path(settings: BaseSettings, name: str) -> Path:
    """The path of output file ``name`` (one of FILE_SETTINGS), checked writable.

    Every output file lives in ``OUTPUT_DIR``, temporary files included: a name that
    leads out of it, or to a folder, is a BadConfig. Nothing is made here (the crawl's
    lock makes ``OUTPUT_DIR``, ``booksscraper.output.lock``).
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
    """BadConfig unless ``folder`` exists or its nearest existing parent is a writable folder.

    Only a look: making the folder (and removing it again) here raced with other crawls
    starting into the same parent.
    """
    parent = folder
    while not parent.exists() and not parent.is_symlink() and parent.parent != parent:
        parent = parent.parent
    if parent == folder and folder.is_dir():
        return
    if not parent.is_dir():
        raise BadConfig(f"{name}: cannot create folder {folder}: Not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BadConfig(f"{name}: cannot create folder {folder}: Permission denied")


def finished(stats_file: Path) -> bool:
    """Whether ``stats_file`` is the stats of a crawl that finished."""
    try:
        stats = json.loads(stats_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(stats, dict) and stats.get("finish_reason") == "finished"


class OutputFolder:
    """``OUTPUT_DIR`` of one crawl: untouched until its first record, then this crawl's alone.

    ``start()`` (called by every writer before its first record) sets the previous crawl's
    files aside, once; ``settle()`` (at the very end) keeps this crawl's or brings them
    back. With ``OUTPUT_ENABLED`` off nothing is written at all.
    """

    # What a resumed crawl (JOBDIR) goes on adding to: the previous run's are kept.
    KEPT_ON_RESUME = ("OUTPUT_JSONL", "OUTPUT_JSON", "MONITOR_FILE")

    def __init__(self, crawler: Crawler) -> None:
        from booksscraper.output.resume import job_resumed  # resume reads files of this folder

        settings = crawler.settings
        self.crawler = crawler
        self.enabled = boolean(settings, "OUTPUT_ENABLED")
        self.folder = output_folder(settings)
        self.resuming = job_resumed(crawler)
        self.stats_file = self.folder / (settings.get("STATS_FILE") or default("STATS_FILE"))
        names = ["report.md"] + [settings.get(name) or default(name) for name in FILE_SETTINGS]
        kept = [settings.get(name) or default(name) for name in self.KEPT_ON_RESUME]
        self.files = [self.folder / name for name in names]  # a crawl's files
        self.replaced = [self.folder / name for name in names  # what this crawl writes afresh
                         if not (self.resuming and name in kept)]
        self.started = False
        self.settled = False
        self.writers: list[JsonLinesWriter] = []
        crawler.signals.connect(self._connect_settle, signal=signals.engine_started)

    @classmethod
    def for_crawler(cls, crawler: Crawler) -> OutputFolder:
        return shared(crawler, cls)

    @property
    def previous(self) -> Path:
        return self.folder / PREVIOUS_DIR

    def start(self) -> None:
        """Before the crawl's first record: the previous crawl's files set aside, once."""
        if self.started:
            return
        self.started = True
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for stale in self.folder.glob(f".*{TEMPORARY}"):  # a crash's; this crawl holds the lock
                stale.unlink()
            self._roll_back_a_cut_move()
            self._set_previous_aside()
            replace_atomically(self.stats_file, lambda f: f.write(
                dumps({STATUS: "running", "pid": os.getpid()}) + "\n"))
        except OSError as exc:
            raise OutputError(self.folder, exc) from exc
        for writer in self.writers:  # the crawl's set of files from now on, as a kill -9 leaves it
            writer.open()

    def _roll_back_a_cut_move(self) -> None:
        moving = self.folder / _MOVING
        if not moving.is_dir():
            return
        for path in moving.iterdir():
            if not (self.folder / path.name).exists():
                os.replace(path, self.folder / path.name)
        shutil.rmtree(moving)

    def _set_previous_aside(self) -> None:
        present = [path for path in self.replaced if path.exists() or path.is_symlink()]
        if not present:
            return
        if self.resuming or (self.previous.is_dir() and not finished(self.stats_file)):
            # The files of an unfinished run of this crawl (a resume goes on with its books),
            # or of a crawl that stopped early while previous/ holds the last finished one.
            for path in present:
                path.unlink()
            return
        moving = self.folder / _MOVING
        moving.mkdir()
        for path in present:
            os.replace(path, moving / path.name)
        if self.previous.is_dir():
            shutil.rmtree(self.previous)
        os.replace(moving, self.previous)
        logger.info("The previous crawl's files are in %s until this crawl has its own",
                    self.previous)

    def _connect_settle(self) -> None:
        # Connected once the engine runs: these handlers run after every component's own
        # (the export's books.json, the summary's stats).
        self.crawler.signals.connect(self._mark, signal=signals.spider_closed)
        self.crawler.signals.connect(self.settle, signal=signals.engine_stopped)

    def _books(self) -> int:
        stats = self.crawler.stats
        return (stats.get_value("export/items", 0) or 0) + (
            stats.get_value("export/resumed_with", 0) or 0)

    def _mark(self) -> None:
        if self.started:
            reason = self.crawler.stats.get_value("finish_reason")
            self.crawler.stats.set_value(STATUS, "complete" if reason == "finished" else "partial")

    def settle(self) -> None:
        """At the very end: this crawl's files stay, or (no book, not finished) the last return.

        Also called once the crawl process is done (``settle_output``): a crawl stopped while
        its engine was starting gets no engine_stopped (scrapy/scrapy#6916).
        """
        if self.settled or not self.started or not self.previous.is_dir():
            return
        self.settled = True
        with stopping_on_output_error(self.crawler):
            try:
                if self.crawler.stats.get_value("finish_reason") == "finished":
                    shutil.rmtree(self.previous)
                elif self._books():
                    logger.info("The crawl stopped early: its books are in %s, the last finished "
                                "crawl's in %s", self.folder, self.previous)
                else:
                    self._bring_previous_back()
            except OSError as exc:
                raise OutputError(self.previous, exc) from exc

    def _bring_previous_back(self) -> None:
        for path in self.files:
            if path.exists() or path.is_symlink():
                path.unlink()
        for path in self.previous.iterdir():
            os.replace(path, self.folder / path.name)
        self.previous.rmdir()
        logger.warning("The crawl stopped before its first book: %s holds the previous crawl's "
                       "files again", self.folder)


def settle_output(crawler: Crawler) -> None:
    """After the crawl: ``OutputFolder.settle``, if the crawl's own end did not."""
    if boolean(crawler.settings, "OUTPUT_ENABLED"):
        OutputFolder.for_crawler(crawler).settle()
