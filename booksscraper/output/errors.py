"""A write that fails stops the crawl: reason ``output_error``, stat ``output/error``, exit 4."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro

logger = logging.getLogger(__name__)

# The stat that holds the first write error's message, and the close reason it causes.
OUTPUT_ERROR = "output/error"
OUTPUT_ERROR_REASON = "output_error"


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
