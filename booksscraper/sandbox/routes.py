"""URL routing of the catalogue pages: path -> (page kind, body), 404 for anything else."""

from __future__ import annotations

import re
from collections.abc import Callable

from .catalogue import Catalogue
from .pages.book import render_book
from .pages.listing import render_all_books, render_category, render_home, render_listing

_LISTING = re.compile(r"/catalogue/page-([1-9][0-9]*)\.html")
_ALL_BOOKS = re.compile(r"/catalogue/category/books_1/(?:index|page-([1-9][0-9]*))\.html")
_CATEGORY = re.compile(
    r"/catalogue/category/books/([a-z0-9-]+_[0-9]+)/(?:index|page-([1-9][0-9]*))\.html")
_BOOK = re.compile(r"/catalogue/([a-z0-9-]*)_([1-9][0-9]*)/index\.html")
_IMAGE = re.compile(r"/media/cache/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{32}\.jpg")

# A 1x1 baseline JPEG, so image fetches succeed without storing pictures.
TINY_JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c1912"
    "130f141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0000b0800"
    "01000101011100ffc4001f0000010501010101010100000000000000000102030405060708090a0bffc400b5100002"
    "010303020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c11552d1f024"
    "33627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a63646566676869"
    "6a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4"
    "c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda0008010100003f00fbd3"
    "ffd9"
)

Render = Callable[[str | None], bytes | None]


def _none(_variant: str | None = None) -> None:
    return None


def book_id_of(path: str) -> int | None:
    """The book id of a book page's path, else None."""
    m = _BOOK.fullmatch(path)
    return int(m.group(2)) if m else None


def resolve(cat: Catalogue, path: str) -> tuple[str, Render]:
    """(kind, render) for a path; render(variant) gives the body, or None for a 404.

    Rendering is deferred so a request refused by a policy costs no page rendering.
    Kinds: home, listing, category, book, image, other.
    """
    if path in ("/", "/index.html"):
        return "home", lambda _v=None: render_home(cat)
    if m := _BOOK.fullmatch(path):
        book_id = int(m.group(2))
        if not cat.is_live(book_id) or cat.book(book_id).slug != m.group(1):
            return "book", _none
        return "book", lambda v=None: render_book(cat, book_id, v)
    if m := _LISTING.fullmatch(path):
        page = int(m.group(1))
        return "listing", lambda _v=None: render_listing(cat, page)
    if m := _CATEGORY.fullmatch(path):
        index = cat.category_by_path(m.group(1))
        page = int(m.group(2) or 1)
        if index is None:
            return "category", _none
        return "category", lambda _v=None: render_category(cat, index, page)
    if m := _ALL_BOOKS.fullmatch(path):
        page = int(m.group(1) or 1)
        return "category", lambda _v=None: render_all_books(cat, page)
    if _IMAGE.fullmatch(path):
        return "image", lambda _v=None: TINY_JPEG
    return "other", _none


def route(cat: Catalogue, path: str, variant: str | None = None) -> tuple[str, bytes | None]:
    """Render a path directly (for tests without a server): (kind, body or None for 404)."""
    kind, render = resolve(cat, path)
    return kind, render(variant)
