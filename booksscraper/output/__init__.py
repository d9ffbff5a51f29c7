"""The crawl's output: where it goes, how it is written, and resuming from it.

- ``lock``: one crawl at a time in an ``OUTPUT_DIR`` and a ``JOBDIR`` (an OS lock).
- ``folder``: ``OUTPUT_DIR`` and its files, untouched until the crawl has something to write;
  the previous crawl's kept in ``previous/`` until this one's exist.
- ``jsonlines``: crash-safe JSON lines files, and writing a whole file atomically.
- ``errors``: a failed write stops the crawl (exit 4).
- ``resume``: a ``JOBDIR`` crawl resumes from what the output already holds.
"""
