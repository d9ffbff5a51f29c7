"""Deterministic synthetic catalogue: every book is a pure function of (seed, book id).

Nothing per book is stored, so a 1,000,000-book catalogue costs only the category index (one
compact ``array`` of ids, built on first use).

Changes at run time (``set_changes``) are an overlay on that catalogue, not a copy of it: the
books whose price, stock, rating or description changed (their new values, also a pure function
of the changes' seed and the book id), the removed ids, and new ids past the startup ones. The
overlay is declarative: each call describes the catalogue relative to the startup one, and
``last_changes`` lists what differs between the catalogue before the call and after it.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import random
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

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
# What a run-time change can touch (the keys of ``changes`` that count books), and the others.
CHANGE_FIELDS = ("price", "availability", "rating", "description")
CHANGE_KEYS = (*CHANGE_FIELDS, "add", "remove", "seed")
# Ground-truth fields left out of change records: they never change.
_FIXED_FIELDS = ("book_id",)


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
        self._base = lru_cache(maxsize=2048)(self._make_book)  # bounded: memory stays flat
        # The run-time overlay (set_changes): new values by id, removed ids, ids past `size`.
        self.changes: dict[str, int] = {}
        self.overrides: dict[int, dict[str, Any]] = {}
        self.removed: frozenset[int] = frozenset()
        self.added = 0
        self._live: Sequence[int] = range(books, 0, -1)
        self.last_changes: list[dict[str, Any]] = []
        self.touched: dict[int, int] = {}  # id -> edition number that last changed its page
        self.edition = 0

    @property
    def top(self) -> int:
        """The highest book id (startup books plus added ones)."""
        return self.size + self.added

    @property
    def count(self) -> int:
        """Books in the catalogue now."""
        return len(self._live)

    def live_ids(self) -> Sequence[int]:
        """Ids of the books in the catalogue, descending (the listing order)."""
        return self._live

    def is_live(self, book_id: int) -> bool:
        return 1 <= book_id <= self.top and book_id not in self.removed

    def book(self, book_id: int) -> Book:
        if not self.is_live(book_id):
            raise KeyError(book_id)
        return self._overlaid(book_id, self.overrides)

    def _overlaid(self, book_id: int, overrides: dict[int, dict[str, Any]]) -> Book:
        book = self._base(book_id)
        new = overrides.get(book_id)
        return dataclasses.replace(book, **new) if new else book

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
            for book_id in self._live:
                index[of(book_id)].append(book_id)
            self._index = index
        return self._index[cat_index]

    # -- books ---------------------------------------------------------------------------------
    def _make_book(self, book_id: int) -> Book:
        if not 1 <= book_id <= self.size + self.added:
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
        return self._truth_of(self.book(book_id), base_url)

    def _truth_of(self, b: Book, base_url: str | None = None) -> dict:
        base = self.base_url if base_url is None else base_url
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

    # -- run-time changes ----------------------------------------------------------------------
    def set_changes(self, changes: dict[str, int]) -> None:
        """The catalogue becomes the startup one with ``changes`` applied (see the docstring).

        ``changes``: counts of books whose ``price``, ``availability``, ``rating`` or
        ``description`` change (distinct books), ``remove`` (books removed), ``add`` (new books)
        and ``seed`` (which books, and their new values). Validated by SandboxConfig.
        """
        if changes == self.changes:
            return
        before = (self.overrides, self.removed, self.added)
        counts = [changes.get(name, 0) for name in CHANGE_FIELDS]
        remove = changes.get("remove", 0)
        rng = random.Random(f"changes:{self.seed}:{changes.get('seed', 0)}")
        picked = rng.sample(range(1, self.size + 1), sum(counts) + remove)
        removed = frozenset(picked[:remove])
        overrides: dict[int, dict[str, Any]] = {}
        at = remove
        for name, count in zip(CHANGE_FIELDS, counts, strict=True):
            for book_id in picked[at:at + count]:
                overrides[book_id] = self._changed(book_id, name, changes.get("seed", 0))
            at += count
        self.changes = dict(changes)
        self.overrides, self.removed, self.added = overrides, removed, changes.get("add", 0)
        top = self.size + self.added
        self._live = (range(top, 0, -1) if not removed else
                      array("I", (i for i in range(top, 0, -1) if i not in removed)))
        self._index = None
        self.edition += 1
        self.last_changes = self._diff(before)
        for record in self.last_changes:
            self.touched[record["book_id"]] = self.edition

    def _changed(self, book_id: int, name: str, seed: int) -> dict[str, Any]:
        """New values of one field of one book, always different from the startup ones."""
        old = self._base(book_id)
        rng = random.Random(mix64((self.seed << 40) ^ (seed << 20) ^ book_id ^ 0xC4A9))
        if name == "price":
            pence = old.price_pence
            while pence == old.price_pence:
                pence = rng.randrange(1000, 6000)
            return {"price_pence": pence}
        if name == "availability":
            stock = old.availability
            while stock == old.availability:
                stock = rng.randint(1, 40)
            return {"availability": stock}
        if name == "rating":
            return {"rating": (old.rating - 1 + rng.randint(1, 4)) % 5 + 1}
        description, raw = old.description, old.description_raw
        while (description, raw) == (old.description, old.description_raw):
            description, raw = description_for(rng)
        return {"description": description, "description_raw": raw}

    def _diff(self, before: tuple[dict[int, dict[str, Any]], frozenset[int], int]
              ) -> list[dict[str, Any]]:
        """Ground truth of the last change: one record per book that differs, id ascending."""
        old_overrides, old_removed, old_added = before
        ids = (set(old_overrides) | set(self.overrides) | old_removed | self.removed
               | set(range(self.size + 1, self.size + max(old_added, self.added) + 1)))
        records = []
        for book_id in sorted(ids):
            was = book_id <= self.size + old_added and book_id not in old_removed
            # URLs relative to the site (the base URL is only known once the server listens).
            old = self._truth_of(self._overlaid(book_id, old_overrides), "") if was else None
            new = self.truth(book_id, "") if self.is_live(book_id) else None
            if old == new:
                continue
            change = "new" if old is None else "removed" if new is None else "changed"
            current = new or old
            assert current is not None
            fields = {} if change != "changed" else {
                k: [old[k], new[k]] for k in new
                if k not in _FIXED_FIELDS and old[k] != new[k]}
            records.append({"upc": current["upc"], "path": current["url"], "change": change,
                            "fields": fields, "book_id": book_id})
        return records
