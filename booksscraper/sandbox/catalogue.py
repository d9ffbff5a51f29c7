"""Deterministic synthetic catalogue: every book is a pure function of (seed, book id).

Nothing per book is stored, so a 1,000,000-book catalogue costs only the category index (one
compact ``array`` of ids, built on first use).
"""

from __future__ import annotations

import bisect
import hashlib
import random
from array import array
from dataclasses import dataclass
from functools import lru_cache

from .text import description_for, slugify, title_for

_M64 = (1 << 64) - 1

# The real site's 50 categories, in sidebar order: (slug, numeric id, name). "Books" is books_1.
_NAMES = (
    "Travel", "Mystery", "Historical Fiction", "Sequential Art", "Classics", "Philosophy",
    "Romance", "Womens Fiction", "Fiction", "Childrens", "Religion", "Nonfiction", "Music",
    "Default", "Science Fiction", "Sports and Games", "Add a comment", "Fantasy", "New Adult",
    "Young Adult", "Science", "Poetry", "Paranormal", "Art", "Psychology", "Autobiography",
    "Parenting", "Adult Fiction", "Humor", "Horror", "History", "Food and Drink",
    "Christian Fiction", "Business", "Biography", "Thriller", "Contemporary", "Spirituality",
    "Academic", "Self Help", "Historical", "Christian", "Suspense", "Short Stories", "Novels",
    "Health", "Politics", "Cultural", "Erotica", "Crime",
)
REAL_CATEGORIES: tuple[tuple[str, int, str], ...] = tuple(
    (slugify(name), i + 2, name) for i, name in enumerate(_NAMES)
)
# Books per category on the real site (sum 1000): the synthetic catalogue keeps these proportions.
REAL_COUNTS = (
    11, 32, 26, 75, 19, 11, 35, 17, 65, 29, 7, 110, 13, 152, 16, 5, 67, 48, 6, 54, 14, 19, 1, 8, 7,
    9, 1, 1, 10, 17, 18, 30, 6, 12, 5, 11, 3, 6, 1, 5, 2, 3, 1, 1, 1, 4, 3, 1, 1, 1,
)
PER_PAGE = 20
RATING_WORDS = ("One", "Two", "Three", "Four", "Five")


def mix64(x: int) -> int:
    """splitmix64 finaliser: a bijection on 64-bit ints (distinct inputs, distinct outputs)."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


@dataclass(frozen=True, slots=True)
class Category:
    slug: str  # e.g. "mystery" (without the id)
    id: int  # e.g. 3
    name: str

    @property
    def path_slug(self) -> str:
        return f"{self.slug}_{self.id}"


@dataclass(frozen=True, slots=True)
class Book:
    id: int
    title: str
    slug: str
    upc: str
    price_pence: int
    availability: int
    rating: int  # 1..5
    category: Category
    description: str | None  # clean text, each sentence once
    description_raw: str | None  # as shown on the page (unescaped)
    image_hash: str  # book page image
    thumb_hash: str  # listing thumbnail (the real site uses a different cached file)

    @property
    def path(self) -> str:
        return f"catalogue/{self.slug}_{self.id}/index.html"

    @property
    def price(self) -> str:
        return f"{self.price_pence // 100}.{self.price_pence % 100:02d}"

    @property
    def image_path(self) -> str:
        h = self.image_hash
        return f"media/cache/{h[:2]}/{h[2:4]}/{h}.jpg"

    @property
    def thumb_path(self) -> str:
        h = self.thumb_hash
        return f"media/cache/{h[:2]}/{h[2:4]}/{h}.jpg"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


class Catalogue:
    """N books (ids 1..N) in C categories, generated on demand from ``seed``."""

    def __init__(self, books: int = 1000, seed: int = 0, categories: int = 50,
                 base_url: str = "http://127.0.0.1/") -> None:
        if not 1 <= books <= 1_000_000:
            raise ValueError(f"books must be between 1 and 1000000, got {books}")
        if not 1 <= categories <= len(REAL_CATEGORIES):
            raise ValueError(f"categories must be between 1 and 50, got {categories}")
        self.size = books
        self.seed = seed
        self.base_url = base_url
        self.categories = tuple(Category(*c) for c in REAL_CATEGORIES[:categories])
        self._by_path = {c.path_slug: i for i, c in enumerate(self.categories)}
        weights = [REAL_COUNTS[i] for i in range(len(self.categories))]
        total, acc = sum(weights), 0.0
        self._cum: list[float] = []  # cumulative weights: a uniform draw picks the category
        for w in weights:
            acc += w
            self._cum.append(acc / total)
        self._index: list[array] | None = None
        self.book = lru_cache(maxsize=2048)(self._make_book)  # bounded: memory stays flat

    # -- categories ----------------------------------------------------------------------------
    def category_index_of(self, book_id: int) -> int:
        u = mix64((self.seed * 0x2545F4914F6CDD1D + book_id * 0x9E3779B1 + 11) & _M64) / 2.0**64
        return min(bisect.bisect_right(self._cum, u), len(self.categories) - 1)

    def category_by_path(self, path_slug: str) -> int | None:
        return self._by_path.get(path_slug)

    def category_ids(self, cat_index: int) -> array:
        """Book ids of one category, id descending (the listing order)."""
        if self._index is None:
            index = [array("I") for _ in self.categories]
            of = self.category_index_of
            for book_id in range(self.size, 0, -1):
                index[of(book_id)].append(book_id)
            self._index = index
        return self._index[cat_index]

    # -- books ---------------------------------------------------------------------------------
    def _make_book(self, book_id: int) -> Book:
        if not 1 <= book_id <= self.size:
            raise KeyError(book_id)
        rng = random.Random(mix64((self.seed << 32) ^ book_id ^ 0x5EED))
        title = title_for(rng, book_id)
        pence = rng.randrange(1000, 6000)
        shape = rng.random()
        if shape < 0.15:
            pence -= pence % 100  # £10.00
        elif shape < 0.25:
            pence -= pence % 10  # £20.50
        stock = rng.randint(1, 22) if rng.random() < 0.9 else rng.randint(23, 40)
        description, raw = description_for(rng)
        return Book(
            id=book_id,
            title=title,
            slug=slugify(title) or "book",
            upc=f"{mix64((self.seed * 0x9E3779B97F4A7C15 + book_id) & _M64):016x}",
            price_pence=pence,
            availability=stock,
            rating=rng.randint(1, 5),
            category=self.categories[self.category_index_of(book_id)],
            description=description,
            description_raw=raw,
            image_hash=_md5(f"{self.seed}:{book_id}:full"),
            thumb_hash=_md5(f"{self.seed}:{book_id}:thumb"),
        )

    def truth(self, book_id: int, base_url: str | None = None) -> dict:
        """What a correct crawl must return for this book (the spider item's fields)."""
        b = self.book(book_id)
        base = base_url or self.base_url
        return {
            "url": base + b.path,
            "book_id": b.id,
            "upc": b.upc,
            "title": b.title,
            "price": b.price,
            "currency": "GBP",
            "price_excl_tax": b.price,
            "price_incl_tax": b.price,
            "tax": "0.00",
            "availability": b.availability,
            "in_stock": b.availability > 0,
            "rating": b.rating,
            "category": b.category.name,
            "description": b.description,
            "description_raw": b.description_raw,
            "image_url": base + b.image_path,
            "review_count": 0,
        }

    def pages(self, count: int) -> int:
        return max(1, -(-count // PER_PAGE))
