"""The item the `books` spider yields: one per book page.

A dataclass, read and written through itemadapter everywhere else, so pipelines
do not depend on the item class. Money is `Decimal` (exact); exporters write it
as a string ("51.77"), never as a float.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass
class BookItem:
    url: str | None = None
    book_id: int | None = None
    upc: str | None = None
    title: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    price_excl_tax: Decimal | None = None
    price_incl_tax: Decimal | None = None
    tax: Decimal | None = None
    availability: int | None = None
    in_stock: bool | None = None
    rating: int | None = None
    category: str | None = None
    description: str | None = None
    image_url: str | None = None
    review_count: int | None = None
    scraped_at: str | None = None  # ISO 8601, UTC
    # Filled by the cleanup pipeline (booksscraper.pipelines.cleanup).
    description_raw: str | None = None  # as the page shows it
    word_count: int | None = None  # words in the clean description
    reading_time_s: int | None = None  # seconds to read it at 230 words a minute
    near_duplicate_of: str | None = None  # url of an earlier book of the job, same blurb (cleanup)


# Fields a crawl must get right, compared with the sandbox's ground truth.
TRUTH_FIELDS: tuple[str, ...] = (
    "url",
    "book_id",
    "upc",
    "title",
    "price",
    "currency",
    "price_excl_tax",
    "price_incl_tax",
    "tax",
    "availability",
    "in_stock",
    "rating",
    "category",
    "description",
    "image_url",
    "review_count",
)
