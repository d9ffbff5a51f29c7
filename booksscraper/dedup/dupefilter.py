"""Scrapy's duplicate filter with its seen fingerprints in a compact set.

``RFPDupeFilter`` keeps every request fingerprint (20 bytes from Scrapy's
fingerprinter) as a ``bytes`` object in a Python ``set``: ~85 bytes a request,
plus the fragmentation of a hundred thousand small objects living as long as
the crawl. ``CompactDupeFilter`` keeps a 64-bit blake2b key of each
fingerprint in a ``booksscraper.dedup.keyset.KeySet`` (13-27 bytes a request).
Everything else is Scrapy's: the fingerprinter (``REQUEST_FINGERPRINTER_CLASS``),
``DUPEFILTER_DEBUG``, the log line and stat of a filtered request, and with
``JOBDIR`` the ``requests.seen`` file, written and read back in Scrapy's format
(full fingerprints), so a job directory moves between the two filters.

Collisions: two different requests share a key with probability about
n**2 / 2**65 over n requests, ~3e-10 at 10**5 requests and ~3e-6 at 10**7; a
collision drops one request as a duplicate (the page would be missing and
not reported). blake2b of the fingerprint, not its first bytes, so a custom
fingerprinter whose output is not uniformly random still gets random keys.

The BooksStack add-on sets ``DUPEFILTER_CLASS`` to this class unless the
project or command line set one; the cluster (``REDIS_URL``) uses
scrapy-redis's own filter in Redis. No settings of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from scrapy.dupefilters import RFPDupeFilter
from scrapy.utils.request import RequestFingerprinterProtocol

from booksscraper.dedup.keyset import KeySet, key64

if TYPE_CHECKING:
    from scrapy.http import Request

_SIZE_BYTES = 2  # the length prefix of each fingerprint in requests.seen, as Scrapy writes it
_READ_CHUNK = 1 << 20


class CompactDupeFilter(RFPDupeFilter):
    def __init__(
        self,
        path: str | None = None,
        debug: bool = False,
        *,
        fingerprinter: RequestFingerprinterProtocol | None = None,
    ) -> None:
        # Scrapy's constructor would read requests.seen into its set: open the file here instead.
        super().__init__(None, debug, fingerprinter=fingerprinter)
        self.seen = KeySet()
        if path:
            self.file = Path(path, "requests.seen").open("a+b")  # noqa: SIM115 - closed in close()
            self.file.seek(0)
            whole = 0  # bytes of complete records
            for fingerprint, whole in _iter_seen_file(self.file):  # noqa: B007 - used below
                self.seen.add(key64(fingerprint))
            # A record torn by a crash is cut off, or the next one appended after it
            # would be misread on the next resume.
            self.file.truncate(whole)

    def request_seen(self, request: Request) -> bool:
        # Scrapy's fingerprinter: crawler.request_fingerprinter, which from_crawler passes.
        fingerprint = self.fingerprinter.fingerprint(request)
        if not self.seen.add(key64(fingerprint)):
            return True
        if self.file:
            self.file.write(len(fingerprint).to_bytes(_SIZE_BYTES, "big") + fingerprint)
        return False


def _iter_seen_file(file: IO[bytes]) -> Iterator[tuple[bytes, int]]:
    """Each fingerprint of ``requests.seen`` with the file offset where its record ends.

    Read a chunk at a time; a torn last record is skipped.
    """
    pending, offset = b"", 0  # offset: where ``pending`` starts in the file
    while chunk := file.read(_READ_CHUNK):
        data = pending + chunk
        pos = 0
        while pos + _SIZE_BYTES <= len(data):
            end = pos + _SIZE_BYTES + int.from_bytes(data[pos : pos + _SIZE_BYTES], "big")
            if end > len(data):
                break  # continues in the next chunk, or was cut by a crash
            yield data[pos + _SIZE_BYTES : end], offset + end
            pos = end
        pending, offset = data[pos:], offset + pos
