"""What a crawl remembers once per request or per book, compactly.

- ``keyset``: ``KeySet``, a set of 64-bit keys in one array (17-21 bytes a key against
  69-95 for a Python set: BENCHMARKS.md, key tables), ``key64`` and the open-addressing
  table (``OpenTable``) the near-duplicate index's band tables share.
- ``dupefilter``: ``CompactDupeFilter``, Scrapy's duplicate filter on a ``KeySet``.

The export's seen UPCs, the resume's exported URLs and validation's keys use ``KeySet``
and ``key64`` too.
"""
