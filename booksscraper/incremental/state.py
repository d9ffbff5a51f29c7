"""The history an incremental crawl compares with: one state per scope, side by side.

``INCREMENTAL_HISTORY_DIR`` (``history_dir``) holds one folder per scope, the start URL's
site and section (``scope_name``): a category and the whole catalogue, or two sites, keep
their own. Default: ``OUTPUT_DIR/incremental``; for a scrapyd job (``_job``),
``incremental`` beside the job's folder, so every job compares with the last finished job
of its scope however its ``OUTPUT_DIR`` was set. A scope's folder (``STATE_DIR`` on a
cluster, in the merged output's folder) holds:

- ``books.jsonl``: the catalogue as last known;
- ``run.json``: its header: the start URL, the number of records and the SHA-256 of
  ``books.jsonl``, written after it (both atomically): a state that does not match its
  header is damaged (``DamagedState``), never half-read;
- ``httpcache/`` (single-process crawls): the page cache (``booksscraper.incremental.fetch``).

Only a crawl that finished writes its scope's state; nothing deletes one (another scope, a
cancelled or failed run, ``INCREMENTAL=False`` leave it as it is). Two jobs of one scope may
run at once (scrapyd): the pair is written under an exclusive ``flock`` on ``LOCK_FILE`` and
read under a shared one, so a reader never sees one job's books with another's header.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings

from booksscraper.config.readers import boolean, text
from booksscraper.dedup.keyset import KeySet
from booksscraper.extraction.validation import upc_key
from booksscraper.output.folder import output_folder
from booksscraper.output.jsonlines import dumps, replace_atomically

logger = logging.getLogger(__name__)

STATE_DIR = "incremental"
STATE_BOOKS = "books.jsonl"
STATE_RUN = "run.json"
CACHE_DIR = "httpcache"
FORMAT = 2  # run.json with the checksum of books.jsonl
LOCK_FILE = ".state.lock"


class DamagedState(Exception):
    """A state file that is not whole: its path and what is wrong, in one line."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path


def enabled(settings: BaseSettings) -> bool:
    """``INCREMENTAL``, and an output to compare (not for a look at one page)."""
    return boolean(settings, "INCREMENTAL") and boolean(settings, "OUTPUT_ENABLED")


def history_dir(settings: BaseSettings, job: str | None) -> Path:
    """Where every scope's state is: ``INCREMENTAL_HISTORY_DIR``, or the default above."""
    explicit = text(settings, "INCREMENTAL_HISTORY_DIR")
    if explicit:
        return Path(explicit)
    out = output_folder(settings)
    return (out.parent if job else out) / STATE_DIR


def scope_name(start_url: str) -> str:
    """A folder name for the start URL's site and section (``index.html``, pages aside)."""
    parts = urlsplit(start_url)
    path = re.sub(r"(^|/)(index|page-\d+)\.html$", "", parts.path).strip("/")
    scope = f"{parts.netloc.lower()}/{path}".rstrip("/")
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", scope).strip("_")[:80]
    return f"{readable}-{hashlib.sha256(scope.encode()).hexdigest()[:8]}"


def state_dir(crawler: Crawler) -> Path:
    """This crawl's scope's state folder."""
    spider = crawler.spider
    job = getattr(spider, "_job", None)
    history = history_dir(crawler.settings, job)
    state = history / scope_name(spider.start_url)
    _adopt_the_old_layout(history, state, spider.start_url)
    return state


def _adopt_the_old_layout(history: Path, state: Path, start_url: str) -> None:
    """A state from before scopes (``books.jsonl`` right in the history folder) of this scope
    becomes the scope's."""
    run = history / STATE_RUN
    if state.exists() or not run.is_file():
        return
    try:
        old = json.loads(run.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if not isinstance(old, dict) or scope_name(str(old.get("start_url"))) != state.name:
        return
    state.mkdir(parents=True, exist_ok=True)
    for name in (STATE_BOOKS, CACHE_DIR, STATE_RUN):  # run.json last: a state is whole with it
        if (history / name).exists():
            os.replace(history / name, state / name)
    logger.info("incremental: the state of %s moved to %s", start_url, state)


@contextmanager
def locked(state: Path, exclusive: bool) -> Iterator[None]:
    """The scope's state held against writers (``exclusive``: against readers too)."""
    state.mkdir(parents=True, exist_ok=True)
    fd = os.open(state / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # drops the lock


def load_run(state: Path) -> dict[str, Any] | None:
    """The header of the state in ``state`` once checked whole; None: no state yet."""
    if not state.exists():
        return None
    with locked(state, exclusive=False):
        return _load_run(state)


def _load_run(state: Path) -> dict[str, Any] | None:
    books, run_file = state / STATE_BOOKS, state / STATE_RUN
    if not books.exists() and not run_file.exists():
        return None
    try:
        run = json.loads(run_file.read_bytes())
    except FileNotFoundError:
        raise DamagedState(run_file, "missing (the state has books but no header)") from None
    except (OSError, ValueError):
        raise DamagedState(run_file, "not a JSON header") from None
    if not isinstance(run, dict) or not isinstance(run.get("books"), int):
        raise DamagedState(run_file, "not a state header")
    digest, records = hashlib.sha256(), 0
    try:
        with books.open("rb") as f:
            for line in f:
                digest.update(line)
                records += 1
    except OSError as exc:
        raise DamagedState(books, exc.strerror or str(exc)) from None
    if records != run["books"]:
        raise DamagedState(books, f"{records} records, its header says {run['books']}")
    if run.get("format") == FORMAT and digest.hexdigest() != run.get("sha256"):
        raise DamagedState(books, "its checksum does not match its header")
    return run


def read_run(state: Path) -> dict[str, Any] | None:
    """``load_run``; a damaged state is one WARNING and counts as none (a fresh one follows)."""
    try:
        return load_run(state)
    except DamagedState as exc:
        logger.warning("incremental: damaged state %s: no changes reported this run, a fresh "
                       "state is written", exc)
        return None


def in_scope(state: Path, previous: dict[str, Any] | None, start_url: str | None) -> bool:
    """Whether the previous run crawled the same scope (its state is never dropped)."""
    if previous and previous.get("start_url") is not None and start_url is not None and (
            scope_name(previous["start_url"]) != scope_name(start_url)):
        logger.info("incremental: the previous run crawled %s, this one %s: not compared",
                    previous["start_url"], start_url)
        return False
    return True


def write_state(state: Path, books: Iterable[dict[str, Any]], start_url: str | None) -> None:
    """The state for the next run: ``books`` (this run's, then the carried-over), each UPC
    once, then its header."""
    seen = KeySet()
    digest = hashlib.sha256()

    def write(f: IO[str]) -> None:
        for record in books:
            if seen.add(upc_key(record.get("upc"))):
                line = dumps(record) + "\n"
                digest.update(line.encode("utf-8"))
                f.write(line)

    with locked(state, exclusive=True):
        replace_atomically(state / STATE_BOOKS, write)
        _write_run(state, len(seen), digest.hexdigest(), start_url)


def _write_run(state: Path, books: int, sha256: str, start_url: str | None) -> None:
    run = {"format": FORMAT, "start_url": start_url, "books": books,
           "sha256": sha256,
           "finished_at": datetime.now(UTC).isoformat(timespec="seconds")}
    replace_atomically(state / STATE_RUN, lambda f: f.write(json.dumps(run) + "\n"))
