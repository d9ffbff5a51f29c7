"""Scrapy's downloader with per-slot concurrency enforced during bursts.

The add-on sets ``DOWNLOADER`` to ``booksscraper.downloader.PerSlotLimitDownloader``;
the fix itself overrides a private method of Scrapy's, so it lives in
``booksscraper.compat`` with the other workarounds (and
docs/upstream-per-slot-concurrency.md reports it to Scrapy).
"""

from __future__ import annotations

from booksscraper.compat import PerSlotLimitDownloader

__all__ = ["PerSlotLimitDownloader"]
