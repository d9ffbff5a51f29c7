"""Scrapy's duplicate filter with its seen fingerprints in a compact set.

``RFPDupeFilter`` keeps every request fingerprint (20 bytes from Scrapy's
fingerprinter) as a ``bytes`` object in a Python ``set``: ~85 bytes a request,
plus the fragmentation of a hundred thousand small objects living as long as
the crawl. ``CompactDupeFilter`` keeps a 64-bit blake2b key of each
fingerprint in a ``booksscraper.dedup.keyset.KeySet`` (13-27 bytes a request).
Everything else is Scrapy's: the fingerprinter (``REQUEST_FINGERPRINTER_CLASS``),
``DUPEFILTER_DEBUG``, the log line and stat of a filtered request. With ``JOBDIR``
it writes no ``requests.seen``: a resumed crawl starts from its output, not from
the requests an earlier run saw (``booksscraper.output.resume``), so the file
would only be written to be discarded.

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

from typing import TYPE_CHECKING

from scrapy.dupefilters import RFPDupeFilter
from scrapy.utils.request import RequestFingerprinterProtocol

from booksscraper.dedup.keyset import KeySet, key64

if TYPE_CHECKING:
    from scrapy.http import Request


class CompactDupeFilter(RFPDupeFilter):
    def __init__(
        self,
        path: str | None = None,
        debug: bool = False,
        *,
        fingerprinter: RequestFingerprinterProtocol | None = None,
    ) -> None:
        # No requests.seen (see above), so Scrapy's constructor opens no file.
        super().__init__(None, debug, fingerprinter=fingerprinter)
        self.seen = KeySet()

    def request_seen(self, request: Request) -> bool:
        return not self.seen.add(key64(self.fingerprinter.fingerprint(request)))
