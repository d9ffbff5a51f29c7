"""The crawl's output: where it goes, how it is written, and resuming from it.

- ``folder``: ``OUTPUT_DIR`` and its files, untouched until the crawl has something to write.
- ``jsonlines``: crash-safe JSON lines files, and writing a whole file atomically.
- ``errors``: a failed write stops the crawl (exit 4).
- ``resume``: a ``JOBDIR`` crawl resumes from what the output already holds.
"""
