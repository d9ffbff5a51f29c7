"""Export pipeline: JSON lines while crawling, one JSON array at the end.

Each valid item is appended to ``OUTPUT_JSONL`` and flushed at once, so a
crash loses nothing already scraped. When the spider closes, the JSON lines
are streamed into ``OUTPUT_JSON`` (a JSON array) through a temporary file and
an atomic rename: readers never see a half-written array.

A file that cannot be written stops the crawl (``booksscraper.output``); the
item is not marked exported, and books.json keeps its last complete array.

Books are unique by UPC: an item whose UPC was already exported (a book
reached by two paths, or again after a resumed crawl, whose earlier lines are
read back when ``JOBDIR`` is set) is not written twice and is counted under
``export/duplicates``. The UPCs seen are kept as 64-bit keys in a
``booksscraper.dedup.keyset.KeySet`` (a 16-hex-digit UPC is exactly one key; any
other value is hashed), ~20 bytes a book instead of ~100 in a set of strings.

Settings: ``OUTPUT_DIR``, ``OUTPUT_JSONL``, ``OUTPUT_JSON`` (see
``booksscraper.output``). ``scrapy crawl books -O file.json`` still works as
usual: Scrapy's feed exports run beside this pipeline.
"""

from __future__ import annotations

import os
from typing import IO, Any

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from booksscraper.dedup.keyset import KeySet
from booksscraper.extraction.validation import upc_key
from booksscraper.output.errors import OUTPUT_ERROR, OutputError, stop_on_output_error
from booksscraper.output.folder import OutputFolder, output_path
from booksscraper.output.jsonlines import (
    JsonLinesWriter,
    dumps,
    iter_json_lines,
    replace_atomically,
)
from booksscraper.output.resume import exported_before


class ExportPipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.jsonl_path = output_path(crawler.settings, "OUTPUT_JSONL")
        self.json_path = output_path(crawler.settings, "OUTPUT_JSON")
        self.resuming = bool(crawler.settings.get("JOBDIR"))
        self.output = OutputFolder.for_crawler(crawler)
        self.seen_upcs = KeySet()
        self.writer: JsonLinesWriter | None = None
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExportPipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        if self.resuming:
            # Shared with the spider (one read of the file); export goes on adding to it.
            exported = exported_before(self.crawler)
            self.resuming = exported.resumed  # else a new job in a fresh JOBDIR
            self.seen_upcs = exported.upc_keys
            self.stats.set_value("export/resumed_with", len(self.seen_upcs))
        self.writer = JsonLinesWriter(self.jsonl_path, append=self.resuming, output=self.output)

    def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        upc = adapter.get("upc")
        key = upc_key(upc)
        if key in self.seen_upcs:
            self.stats.inc_value("export/duplicates")
            raise DropItem(f"duplicate book (UPC {upc}) {adapter.get('url')}", log_level="DEBUG")
        if self.writer is None:  # a write failed: the crawl is stopping
            self.stats.inc_value("export/not_written")
            raise DropItem(f"not written: {adapter.get('url')}", log_level="DEBUG")
        try:
            # One level: a book's fields are plain values (asdict() would adapt each again).
            self.writer.write(dict(adapter.items()))
        except OutputError as exc:
            self.writer = None
            stop_on_output_error(self.crawler, exc)
            self.stats.inc_value("export/not_written")
            raise DropItem(f"not written: {adapter.get('url')}", log_level="DEBUG") from None
        self.seen_upcs.add(key)
        self.stats.inc_value("export/items")
        return item

    def spider_closed(self) -> None:
        try:
            if self.writer is not None:
                self.writer.close()
            elif self.crawler.stats.get_value(OUTPUT_ERROR) is not None:
                return  # books.json keeps the last complete array; resume completes it
            if not self.output.enabled:
                return
            self.output.start()
            # Not resuming, every line is a book this pipeline wrote, each UPC once.
            count = write_json_array(self.jsonl_path, self.json_path, unique=not self.resuming)
        except OutputError as exc:
            stop_on_output_error(self.crawler, exc)
            return
        self.stats.set_value("export/json_items", count)


def write_json_array(
    jsonl_path: os.PathLike[str], json_path: os.PathLike[str], *, unique: bool = False
) -> int:
    """Stream unique records (by UPC) of a JSON lines file into a JSON array, atomically.

    ``unique``: the file's lines are records ``JsonLinesWriter`` wrote, each UPC once (an
    export that did not resume): copied as they are, not parsed and encoded again.
    """
    if unique:
        return _copy_json_array(jsonl_path, json_path)
    seen = KeySet()

    def write(out: IO[str]) -> None:
        separator = "[\n"
        for record in iter_json_lines(jsonl_path):
            if not seen.add(upc_key(record.get("upc"))):
                continue
            out.write(separator + dumps(record))
            separator = ",\n"
        out.write("[]\n" if not seen else "\n]\n")

    replace_atomically(json_path, write)
    return len(seen)


def _copy_json_array(jsonl_path: os.PathLike[str], json_path: os.PathLike[str]) -> int:
    count = 0

    def write(out: IO[str]) -> None:
        nonlocal count
        separator = "[\n"
        if os.path.exists(jsonl_path):
            with open(jsonl_path, "rb") as lines:  # split at b"\n" only, as written
                for line in lines:
                    if line.strip():
                        out.write(separator + line.decode("utf-8").rstrip("\n"))
                        separator = ",\n"
                        count += 1
        out.write("[]\n" if not count else "\n]\n")

    replace_atomically(json_path, write)
    return count

