"""Where a crawl writes, and the crash-safe JSON lines files it writes to.

Settings (defaults in brackets):

- ``OUTPUT_DIR`` [``"output"``]: folder of every output file; relative to the
  working directory (under scrapyd, the job's working directory).
- ``OUTPUT_JSONL`` [``"books.jsonl"``], ``OUTPUT_JSON`` [``"books.json"``],
  ``REJECTS_FILE`` [``"rejects.jsonl"``], ``FAILURES_FILE`` [``"failures.jsonl"``]:
  file names, relative to ``OUTPUT_DIR`` unless absolute.

Every record is one JSON line, flushed as written, so a crash loses at most the
line being written. With ``JOBDIR`` set (a resumable crawl) files are appended
to; otherwise a new crawl starts them afresh.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from scrapy.settings import BaseSettings
from scrapy.utils.serialize import ScrapyJSONEncoder

from booksscraper.errors import BadConfig

DEFAULT_NAMES = {
    "OUTPUT_JSONL": "books.jsonl",
    "OUTPUT_JSON": "books.json",
    "REJECTS_FILE": "rejects.jsonl",
    "FAILURES_FILE": "failures.jsonl",
    "MONITOR_FILE": "monitor.jsonl",
    "STATS_FILE": "stats.json",
}

_encoder = ScrapyJSONEncoder(ensure_ascii=False, sort_keys=False)


def output_path(settings: BaseSettings, name: str) -> Path:
    """The path of output file ``name`` (a key of DEFAULT_NAMES), checked writable."""
    folder = Path(settings.get("OUTPUT_DIR") or "output")
    path = folder / (settings.get(name) or DEFAULT_NAMES[name])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadConfig(f"{name}: cannot create folder {path.parent}: {exc.strerror}") from None
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise BadConfig(f"{name}: output path {path} is not writable")
    return path


def dumps(record: Any) -> str:
    """One JSON line; Decimal as a string, datetimes as ISO 8601, non-ASCII kept."""
    return _encoder.encode(record)


class JsonLinesWriter:
    """Appends JSON records to a file, one line each, flushed per record."""

    def __init__(self, path: Path, *, append: bool) -> None:
        self.path = path
        self.count = 0
        if append:
            drop_torn_line(path)
        self._file: IO[str] | None = path.open("a" if append else "w", encoding="utf-8")

    def write(self, record: Any) -> None:
        if self._file is None:
            raise ValueError(f"{self.path} is closed")
        self._file.write(dumps(record) + "\n")
        self._file.flush()
        self.count += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
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
