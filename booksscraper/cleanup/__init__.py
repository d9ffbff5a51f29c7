"""Pure cleanup functions for book records: text, descriptions, money, derived fields,
near-duplicate signatures. No Scrapy here: they run inline, in pool workers and in tests.
"""

from booksscraper.cleanup.record import CleanupOptions, clean_batch, clean_record

__all__ = ["CleanupOptions", "clean_batch", "clean_record"]
