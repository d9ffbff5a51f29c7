"""Where a crawl writes, and the crash-safe JSON lines files it writes to.

Settings (defaults in brackets):

- ``OUTPUT_DIR`` [``"output"``]: folder of every output file; relative to the
  working directory (under scrapyd, the job's working directory).
- ``OUTPUT_JSONL`` [``"books.jsonl"``], ``OUTPUT_JSON`` [``"books.json"``],
  ``REJECTS_FILE`` [``"rejects.jsonl"``], ``FAILURES_FILE`` [``"failures.jsonl"``]:
  file names, relative to ``OUTPUT_DIR`` unless absolute.

- ``OUTPUT_ENABLED`` [``True``]: ``False`` writes nothing; the project's
  ``shell``, ``parse``, ``check``, ``fetch`` and ``view`` commands set it, so a
  look at a page never touches ``OUTPUT_DIR``.

Every record is one JSON line, flushed as written, so a crash loses at most the
line being written. With ``JOBDIR`` set (a resumable crawl) the books files and
the monitor's samples are appended to; every other file describes the latest run.

Nothing is touched until the crawl has something to write (``OutputFolder``):
its first record of any file (a book, a reject, a failure, a resource sample,
the stats at close) first creates ``OUTPUT_DIR`` and removes every file of the
previous crawl (those above, ``STATS_FILE``, ``MONITOR_FILE`` and ``report.md``;
when resuming, not the books files nor the samples), so the folder never holds
a mix of two crawls, then opens every JSON lines file of the crawl (an empty
file is this crawl's: no books, no rejects, even after a kill -9).

Every file lives in ``OUTPUT_DIR``. A file that cannot be written (no space, no
permission) stops the crawl: reason ``output_error``, stat ``output/error``,
exit status 4 (``stop_on_output_error``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.serialize import ScrapyJSONEncoder

from booksscraper.config.declared import default
from booksscraper.config.readers import boolean
from booksscraper.errors import BadConfig
from booksscraper.shared import shared

# The settings that name the output files (defaults in booksscraper.config.declared).
FILE_SETTINGS = (
    "OUTPUT_JSONL", "OUTPUT_JSON", "REJECTS_FILE", "FAILURES_FILE", "MONITOR_FILE", "STATS_FILE",
    "CHANGES_FILE", "ALERTS_FILE",
)

logger = logging.getLogger(__name__)

# The stat that holds the first write error's message, and the close reason it causes.
OUTPUT_ERROR = "output/error"
OUTPUT_ERROR_REASON = "output_error"

_encoder = ScrapyJSONEncoder(ensure_ascii=False, sort_keys=False)


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


class OutputError(Exception):
    """An output file could not be written (no space, no permission...): one line naming it."""

    def __init__(self, path: os.PathLike[str] | str, exc: OSError) -> None:
        super().__init__(f"cannot write {os.fspath(path)}: {exc.strerror or exc}")


def stop_on_output_error(crawler: Crawler, error: OutputError) -> None:
    """A write failed: the crawl stops (reason ``output_error``, exit 4), logged once.

    What was not written is not marked exported, so the same JOBDIR exports it later.
    """
    assert crawler.stats is not None
    crawler.stats.inc_value("output/write_errors")
    if crawler.stats.get_value(OUTPUT_ERROR) is not None:
        return
    crawler.stats.set_value(OUTPUT_ERROR, str(error))
    logger.error("%s: stopping the crawl", error)
    engine = crawler.engine
    if engine is not None and engine.running and engine.spider is not None:
        closing = deferred_from_coro(engine.close_spider_async(reason=OUTPUT_ERROR_REASON))
        closing.addErrback(lambda _failure: None)  # closing already, for another reason



@contextlib.contextmanager
def stopping_on_output_error(crawler: Crawler) -> Iterator[None]:
    """Run a write; if it fails, ``stop_on_output_error`` instead of raising."""
    try:
        yield
    except OutputError as exc:
        stop_on_output_error(crawler, exc)

def replace_atomically(path: os.PathLike[str] | str, write: Callable[[IO[str]], None]) -> None:
    """Write ``path`` through a temporary file beside it and a rename; OutputError on failure.

    A failed write leaves neither a half-written file nor the temporary one.
    """
    tmp = Path(path).with_name(f".{Path(path).name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(path, exc) from exc


def dumps(record: Any) -> str:
    """One JSON line; Decimal as a string, datetimes as ISO 8601, non-ASCII kept."""
    return _encoder.encode(record)


class JsonLinesWriter:
    """Appends JSON records to a file, one line each, flushed per record.

    The file is opened at the first record (``append``: added to, else replaced). With
    ``output``, that crawl's ``OutputFolder`` is started first (or, disabled, nothing is
    written), and at close a file without a record is written empty once the crawl wrote.
    """

    def __init__(
        self, path: Path, *, append: bool, output: OutputFolder | None = None
    ) -> None:
        self.path = path
        self.count = 0
        self.append = append
        self.output = output
        self._file: IO[str] | None = None
        self._state = "new"  # then "open", then "closed"
        if output is not None and output.enabled:
            output.writers.append(self)

    def open(self) -> None:
        """Open the file now, if it is not yet (OutputError if it cannot be)."""
        if self._state == "new":
            self._open()

    def _open(self) -> None:
        if self.output is not None:
            self.output.start()
            if self._state != "new":
                return  # opened by start() itself
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.append:
                drop_torn_line(self.path)
            self._file = self.path.open("a" if self.append else "w", encoding="utf-8")
        except OSError as exc:
            self._state = "closed"
            raise OutputError(self.path, exc) from exc
        self._state = "open"

    def write(self, record: Any) -> None:
        """Append ``record``; OutputError if it cannot be (and then nothing more is written)."""
        if self.output is not None and not self.output.enabled:
            self.count += 1
            return
        if self._state == "new":
            self._open()
        if self._file is None:
            raise OutputError(self.path, OSError(f"{self.path} is closed"))
        try:
            self._file.write(dumps(record) + "\n")
            self._file.flush()
        except OSError as exc:
            self._abandon()
            raise OutputError(self.path, exc) from exc
        self.count += 1

    def close(self) -> None:
        """Flush to disk and close; OutputError if the last bytes cannot be written."""
        if self._state == "new" and self.output is not None and self.output.started:
            self._open()  # no record, but the crawl wrote: an empty file, not the last crawl's
        self._state = "closed"
        if self._file is not None:
            try:
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()
            except OSError as exc:
                self._abandon()
                raise OutputError(self.path, exc) from exc
            self._file = None

    def _abandon(self) -> None:
        """After a failed write: close (its flush fails again; the file is closed anyway)."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None


def drop_torn_line(path: Path) -> None:
    """Cut a line left unfinished by a crash, so appending starts on a new line."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as f:
        data = f.read()
        if not data.endswith(b"\n"):
            f.truncate(data.rfind(b"\n") + 1)


def iter_json_lines(path: os.PathLike[str] | str) -> Iterator[dict[str, Any]]:
    """Records of a JSON lines file, streamed; a torn line (a crash mid-write) is skipped."""
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def read_json_lines(path: os.PathLike[str] | str) -> list[dict[str, Any]]:
    return list(iter_json_lines(path))
