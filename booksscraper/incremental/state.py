"""The state an incremental crawl compares with: where it is, how it moves on, how it is written.

The folder ``OUTPUT_DIR/incremental/`` (``STATE_DIR``): ``books.jsonl``, the catalogue as
last known, ``run.json`` (the start URL and time of the run that wrote it) and, for a
single-process crawl, ``httpcache/``. On a cluster it is the folder of the merged output
(``booksscraper.incremental.cluster``) and the page cache is in Redis.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from scrapy.settings import BaseSettings

from booksscraper.cluster.mode import is_cluster
from booksscraper.config.readers import boolean, text
from booksscraper.dedup.keyset import KeySet
from booksscraper.extraction.validation import upc_key
from booksscraper.output.folder import output_path
from booksscraper.output.jsonlines import dumps, replace_atomically

logger = logging.getLogger(__name__)

STATE_DIR = "incremental"
STATE_BOOKS = "books.jsonl"
STATE_RUN = "run.json"
CACHE_DIR = "httpcache"


def enabled(settings: BaseSettings) -> bool:
    """``INCREMENTAL``, and an output to compare (not for a look at one page)."""
    return boolean(settings, "INCREMENTAL") and boolean(settings, "OUTPUT_ENABLED")


def on_cluster(settings: BaseSettings) -> bool:
    return is_cluster(settings)


def state_dir(settings: BaseSettings) -> Path:
    return Path(text(settings, "OUTPUT_DIR") or "output") / STATE_DIR


def take_over(settings: BaseSettings, state: Path, jobs_dir: str | None) -> None:
    """Move the previous run's state to ``state`` (``INCREMENTAL_FROM``, or the scrapyd rule)."""
    source = _source(settings, state, jobs_dir)
    if source is not None and source.resolve() != state.resolve():
        try:
            if state.exists():
                shutil.rmtree(state)
            state.parent.mkdir(parents=True, exist_ok=True)  # a new job's folder
            os.replace(source, state)
            logger.info("incremental: comparing with the previous run's state from %s", source)
        except FileNotFoundError:
            pass  # another job took it first: a full crawl and a report without comparison
        except OSError as exc:
            logger.warning("incremental: cannot take the state from %s (%s): full crawl",
                           source, exc.strerror)
    if not (state / STATE_BOOKS).exists():
        _from_books_json(settings, state)


def _source(settings: BaseSettings, state: Path, jobs_dir: str | None) -> Path | None:
    explicit = text(settings, "INCREMENTAL_FROM")
    if explicit:
        path = Path(explicit) / STATE_DIR
        if not path.is_dir():
            logger.warning("INCREMENTAL_FROM: %s holds no incremental state", explicit)
            return None
        return path
    if state.is_dir():
        return state
    if jobs_dir is None:  # set under scrapyd
        return None
    candidates = [(run.stat().st_mtime, run.parent)
                  for run in Path(jobs_dir).glob(f"*/{STATE_DIR}/{STATE_RUN}")]
    return max(candidates)[1] if candidates else None


def _from_books_json(settings: BaseSettings, state: Path) -> None:
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
    state.mkdir(parents=True, exist_ok=True)
    replace_atomically(state / STATE_BOOKS,
                       lambda f: f.writelines(dumps(r) + "\n" for r in records))
    logger.info("incremental: comparing with %s (%d books)", books, len(records))


def read_run(state: Path) -> dict[str, Any] | None:
    """The previous run (``{}`` when only its books are known), or None: nothing to compare."""
    if not (state / STATE_BOOKS).exists():
        return None
    try:
        return json.loads((state / STATE_RUN).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # books from a books.json: the start URL is not known


def in_scope(state: Path, previous: dict[str, Any] | None, start_url: str | None) -> bool:
    """Whether the previous run crawled the same start URL; if not, its state is dropped.

    Another scope (a category is not the catalogue minus every other book), or the sandbox
    on another port: nothing to compare, nothing in the cache to reuse.
    """
    if previous and previous.get("start_url") not in (None, start_url):
        logger.info("incremental: the previous run crawled %s, this one %s: not compared",
                    previous["start_url"], start_url)
        shutil.rmtree(state, ignore_errors=True)
        return False
    return True


def write_state(state: Path, books: Iterable[dict[str, Any]], start_url: str | None) -> None:
    """The state for the next run: ``books`` (this run's, then the carried-over), each UPC once."""
    state.mkdir(parents=True, exist_ok=True)
    seen = KeySet()

    def write(f: IO[str]) -> None:
        for record in books:
            if seen.add(upc_key(record.get("upc"))):
                f.write(dumps(record) + "\n")

    replace_atomically(state / STATE_BOOKS, write)
    run = {"start_url": start_url, "books": len(seen),
           "finished_at": datetime.now(UTC).isoformat(timespec="seconds")}
    replace_atomically(state / STATE_RUN, lambda f: f.write(json.dumps(run) + "\n"))
