"""The crawl's ledger: every book the site announced, and what became of it.

``figures`` names each count and reads it from the stats (so stats.json, a merged
cluster's stats, the summary, the report, the monitors and the progress display
all read the same numbers); ``book_ledger`` keeps the books while the crawl runs
and writes those stats. See docs/monitoring.md#the-ledger.
"""
