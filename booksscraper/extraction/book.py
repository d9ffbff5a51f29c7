"""A book page (``catalogue/<slug>_<id>/index.html``) to a ``BookItem``.

Extraction never raises on a malformed page: a field it cannot read is left
``None`` and validation decides what that means.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit, urlunsplit

from lxml import etree
from parsel import Selector, css2xpath

from booksscraper.cleanup.money import read_price
from booksscraper.items import BookItem

RATING_WORDS = {"One": 1, "Two": 2, "Three": 3, "Four": 4, "Five": 5}
# The product table's queries, compiled once: through parsel, each row cost two CSS
# queries and a Selector per result, the largest part of a book page's extraction.
_TABLE_ROWS = etree.XPath(css2xpath("article.product_page table tr"), smart_strings=False)
_ROW_HEADER = etree.XPath(css2xpath("th::text"), smart_strings=False)
_ROW_VALUE = etree.XPath(css2xpath("td::text"), smart_strings=False)
_BOOK_ID = re.compile(r"_(\d+)/(?:index\.html)?$")
_AVAILABLE = re.compile(r"\((\d+) available\)")


def book_url(url: str) -> str:
    """A book link without its query string and fragment (``?ref=list``, ``#reviews``):
    the same page, so the same request, the same duplicate-filter key, the same book."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def book_id_from_url(url: str) -> int | None:
    """The catalogue id in the URL's path (``.../<slug>_<id>/index.html``), or None."""
    match = _BOOK_ID.search(urlsplit(url).path)
    return int(match.group(1)) if match else None


def book_key(url: str) -> str:
    """A book's identity: its catalogue id, else its URL's path (never its query string)."""
    book_id = book_id_from_url(url)
    return f"id:{book_id}" if book_id is not None else urlsplit(url).path


def parse_rating(classes: str | None) -> int | None:
    """The star-rating class words ('star-rating Three') to 1..5."""
    for word in (classes or "").split():
        if word in RATING_WORDS:
            return RATING_WORDS[word]
    return None


def parse_availability(text: str | None) -> tuple[int | None, bool | None]:
    """'In stock (22 available)' -> (22, True); 'Out of stock' -> (0, False)."""
    if not text:
        return None, None
    text = " ".join(text.split())
    if text.startswith("Out of stock"):
        return 0, False
    match = _AVAILABLE.search(text)
    count = int(match.group(1)) if match else None
    return count, text.startswith("In stock")


def _int(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() else None


def _text(sel: Selector, query: str) -> str | None:
    value = sel.css(query).get()
    return value.strip() if value is not None else None


def product_table(sel: Selector) -> dict[str, str]:
    """The 'Product Information' table as {header: value}."""
    table = {}
    for row in _TABLE_ROWS(sel.root):
        header = _ROW_HEADER(row)
        if header and header[0]:
            value = _ROW_VALUE(row)
            table[header[0].strip()] = (value[0] if value else "").strip()
    return table


def parse_book_page(sel: Selector, url: str) -> BookItem:
    main = sel.css("div.product_main")
    table = product_table(sel)
    price, currency = read_price(_text(main, "p.price_color::text"))
    price_excl_tax, _ = read_price(table.get("Price (excl. tax)"))
    price_incl_tax, _ = read_price(table.get("Price (incl. tax)"))
    tax, _ = read_price(table.get("Tax"))
    availability, in_stock = parse_availability(
        table.get("Availability") or " ".join(main.css("p.availability::text").getall())
    )
    image = sel.css("#product_gallery img::attr(src)").get()
    # Some books have no description block at all: None, not "".
    description_node = sel.xpath('//div[@id="product_description"]/following-sibling::p[1]')
    description = description_node.xpath("string()").get() if description_node else None
    return BookItem(
        url=url,
        book_id=book_id_from_url(url),
        upc=table.get("UPC") or None,
        title=_text(main, "h1::text"),
        price=price,
        currency=currency,
        price_excl_tax=price_excl_tax,
        price_incl_tax=price_incl_tax,
        tax=tax,
        availability=availability,
        in_stock=in_stock,
        rating=parse_rating(main.css("p.star-rating::attr(class)").get()),
        # Breadcrumb: Home > Books > <category> > <title>
        category=_text(sel, "ul.breadcrumb li:nth-child(3) a::text"),
        description=description,
        image_url=urljoin(url, image) if image else None,
        review_count=_int(table.get("Number of reviews")),
        scraped_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
