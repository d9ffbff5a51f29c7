"""Items as the `books` spider yields them, made from the sandbox's catalogue."""

from __future__ import annotations

from decimal import Decimal

from booksscraper.items import BookItem
from booksscraper.sandbox.catalogue import Catalogue

CATALOGUE = Catalogue(books=1000, seed=7)


def spider_item(book_id: int) -> BookItem:
    """The description as the page shows it, prices as Decimal, currency GBP."""
    book = CATALOGUE.book(book_id)
    price = Decimal(book.price)
    return BookItem(url=f"http://127.0.0.1/{book.path}", book_id=book_id, upc=book.upc,
                    title=book.title, price=price, price_excl_tax=price, price_incl_tax=price,
                    tax=Decimal("0.00"), currency="GBP", description=book.description_raw)
