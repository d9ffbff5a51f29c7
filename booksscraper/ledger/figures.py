"""The ledger's counts, under ``ledger/...`` stats keys: one name for one thing.

- ``announced``: books the site says the crawl can find: the start page's "N results"
  (from a later page: the books from there on; 1 for a book page);
- ``listed``: distinct books found on listing pages (``listing_pages`` read, of the
  ``listing_pages_announced`` by the pager: "Page 1 of 50");
- ``exported``: distinct books exported this run (``exported_before``: by earlier runs of
  a ``JOBDIR``, skipped);
- ``rejected``: distinct books given up because their page was bad
  (``rejected/<reason>``), after every copy fetched again;
- ``refetched``: bad copies of a book page fetched again (not books lost);
- ``duplicates``: books exported already under another URL (the same UPC);
- ``failed``: requests given up (the failures file's lines), ``failed_books`` of them books;
- ``not_attempted``: books (and held requests) a stop left unfetched (a user's limit,
  Ctrl-C): listed and never settled, or announced and never listed;
- ``behind_lost_listings``: books the site announced on listing pages that failed;
- ``unaccounted``: books announced but never listed, or listed and never settled;
- ``short_listings``: listing pages with fewer books than their range (url, expected,
  found).

Plain counts (a list for ``short_listings``): a cluster's ledger is the sum of its
workers'.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PREFIX = "ledger/"
ANNOUNCED = PREFIX + "announced"
LISTING_PAGES = PREFIX + "listing_pages"
LISTING_PAGES_ANNOUNCED = PREFIX + "listing_pages_announced"
LISTED = PREFIX + "listed"
EXPORTED = PREFIX + "exported"
EXPORTED_BEFORE = PREFIX + "exported_before"
REJECTED = PREFIX + "rejected"
REFETCHED = PREFIX + "refetched"
DUPLICATES = PREFIX + "duplicates"
FAILED = PREFIX + "failed"
FAILED_BOOKS = PREFIX + "failed_books"
NOT_ATTEMPTED = PREFIX + "not_attempted"
BEHIND_LOST_LISTINGS = PREFIX + "behind_lost_listings"
UNACCOUNTED = PREFIX + "unaccounted"
SHORT_LISTINGS = PREFIX + "short_listings"
# Listing pages given up (the spider's errback): what an incremental comparison must not take
# for books removed.
LISTINGS_LOST = "books/listings_lost"

COUNTS = {
    "announced": ANNOUNCED, "listing_pages": LISTING_PAGES,
    "listing_pages_announced": LISTING_PAGES_ANNOUNCED, "listed": LISTED,
    "exported": EXPORTED, "exported_before": EXPORTED_BEFORE, "rejected": REJECTED,
    "refetched": REFETCHED, "duplicates": DUPLICATES, "failed": FAILED,
    "failed_books": FAILED_BOOKS, "not_attempted": NOT_ATTEMPTED,
    "behind_lost_listings": BEHIND_LOST_LISTINGS, "unaccounted": UNACCOUNTED,
}


def figures(stats: Mapping[str, Any]) -> dict[str, Any]:
    """Every ledger count of a crawl's stats (0 when absent; ``announced`` None when unknown)."""
    numbers: dict[str, Any] = {name: int(stats.get(key) or 0) for name, key in COUNTS.items()}
    numbers["announced"] = stats.get(ANNOUNCED)
    numbers["short_listings"] = list(stats.get(SHORT_LISTINGS) or [])
    return numbers


def settled(numbers: Mapping[str, Any]) -> int:
    """Books with an outcome: exported (now or before), rejected, failed, a duplicate."""
    return sum(int(numbers[name]) for name in
               ("exported", "exported_before", "rejected", "failed_books", "duplicates"))


def pages_implied(numbers: Mapping[str, Any]) -> int | None:
    """Pages the crawl should fetch: a page per book announced, and the listing pages."""
    if numbers["announced"] is None:
        return None
    return int(numbers["announced"]) + max(numbers["listing_pages_announced"],
                                           numbers["listing_pages"])


def kept(numbers: Mapping[str, Any]) -> bool:
    """Whether the crawl kept a ledger: the books spider does; another project's spider
    running through the add-on does not (its summary counts items)."""
    return numbers["announced"] is not None or bool(numbers["listing_pages"] or numbers["listed"])


def describe(numbers: Mapping[str, Any]) -> str:
    """The ledger in one phrase, as the summary line says it."""
    announced = numbers["announced"]
    before = f" (+{numbers['exported_before']} before)" if numbers["exported_before"] else ""
    return (f"{numbers['exported']} books exported{before} of "
            f"{announced if announced is not None else '?'} announced, "
            f"{numbers['rejected']} rejected, {numbers['failed_books']} failed, "
            f"{numbers['duplicates']} duplicates, {numbers['not_attempted']} not attempted, "
            f"{numbers['unaccounted']} unaccounted; {numbers['failed']} requests given up, "
            f"{numbers['refetched']} bad copies fetched again")
