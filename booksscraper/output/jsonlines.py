"""Crash-safe JSON lines: one record a line, flushed as written, so a crash loses at most
the line being written; a torn last line is cut before appending.

With ``JOBDIR`` set (a resumable crawl) the books files and the monitor's samples are
appended to; every other file describes the latest run. A write that fails raises
``OutputError``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from scrapy.utils.serialize import ScrapyJSONEncoder

from booksscraper.output.errors import OutputError

if TYPE_CHECKING:
    from booksscraper.output.folder import OutputFolder

_encoder = ScrapyJSONEncoder(ensure_ascii=False, sort_keys=False)
# How a temporary file's name ends (``.<name>.<random>.tmp``, beside the file it replaces).
TEMPORARY = ".tmp"
_EXCLUSIVE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def create_temporary(path: Path) -> tuple[Path, IO[str]]:
    """A new temporary file beside ``path``: created, never opened through what is there."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMPORARY}")
        try:
            fd = os.open(tmp, _EXCLUSIVE, 0o666)
        except FileExistsError:
            continue  # a name someone (or something) already holds: another name
        return tmp, os.fdopen(fd, "w", encoding="utf-8")


def replace_atomically(path: os.PathLike[str] | str, write: Callable[[IO[str]], None]) -> None:
    """Write ``path`` through a temporary file beside it and a rename; OutputError on failure.

    A failed write leaves neither a half-written file nor the temporary one.
    """
    tmp: Path | None = None
    try:
        tmp, f = create_temporary(Path(path))
        with f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
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


def iter_json_lines(
    path: os.PathLike[str] | str, skipped: Callable[[], None] | None = None
) -> Iterator[dict[str, Any]]:
    """Records (JSON objects) of a JSON lines file, streamed.

    A line that is not one (torn by a crash, undecodable bytes, garbage) is skipped, and
    ``skipped()`` called for it.
    """
    if not os.path.exists(path):
        return
    with open(path, "rb") as f:
        for line in f:
            try:
                record = json.loads(line)  # ValueError: not JSON, or not UTF-8
            except ValueError:
                record = None
            if isinstance(record, dict):
                yield record
            elif line.strip() and skipped is not None:
                skipped()


def read_json_lines(path: os.PathLike[str] | str) -> list[dict[str, Any]]:
    return list(iter_json_lines(path))
