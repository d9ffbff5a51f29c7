"""A site unlike what it says: a short listing page, book links with a query string, a
renamed element (``sandbox/edits.py``), seen by a real client and by the spider's parsers."""

from __future__ import annotations

import pytest
from parsel import Selector

from booksscraper.extraction.book import parse_book_page
from booksscraper.extraction.listing import parse_listing_page
from booksscraper.sandbox.testing import RunningSandbox, SandboxError

from .net import get

pytestmark = pytest.mark.timeout(60)


def listing(sb: RunningSandbox, path: str) -> tuple[list[str], str]:
    html = get(sb.base_url, path).body.decode()
    hrefs = Selector(text=html).css("article.product_pod h3 a::attr(href)").getall()
    return hrefs, html


def test_a_short_listing_page_shows_one_book_fewer_than_its_range(sb: RunningSandbox) -> None:
    sb.configure(short_listing_pages=["/catalogue/page-3.html"])
    hrefs, html = listing(sb, "catalogue/page-3.html")
    page = parse_listing_page(Selector(text=html), sb.base_url + "catalogue/page-3.html")
    assert page.shown == (41, 60) and page.expected_books == 20
    assert len(hrefs) == len(page.book_urls) == 19
    assert len(listing(sb, "catalogue/page-4.html")[0]) == 20  # the other pages are whole


def test_book_links_carry_the_query_string_and_the_parser_drops_it(sb: RunningSandbox) -> None:
    sb.configure(book_link_query="?ref=list")
    hrefs, html = listing(sb, "catalogue/page-2.html")
    assert len(hrefs) == 20 and all(h.endswith("/index.html?ref=list") for h in hrefs)
    assert "category/books/" in html and "index.html?ref=list\"" not in html.split(
        '<article class="product_pod">')[0]  # category links untouched
    urls = parse_listing_page(Selector(text=html), sb.base_url + "catalogue/page-2.html")
    assert all(url.endswith("/index.html") for url in urls.book_urls)
    assert get(sb.base_url, "catalogue/" + hrefs[0]).status == 200  # the site ignores it


def test_a_renamed_price_element_leaves_the_price_unread(sb: RunningSandbox) -> None:
    book = sb.truth()[4]
    path = book["url"][len(sb.base_url):]
    assert parse_book_page(Selector(text=get(sb.base_url, path).body.decode()),
                           book["url"]).price is not None
    sb.configure(renamed_elements=["price"])
    item = parse_book_page(Selector(text=get(sb.base_url, path).body.decode()), book["url"])
    assert item.price is None and item.title == book["title"]
    assert item.price_incl_tax is not None  # only the element that moved


def test_bad_edit_options_are_refused(sb: RunningSandbox) -> None:
    with pytest.raises(SandboxError, match="--renamed-elements must be one of price"):
        sb.configure(renamed_elements=["title"])
    with pytest.raises(SandboxError, match="--book-link-query must start with"):
        sb.configure(book_link_query="ref=list")
    with pytest.raises(SandboxError, match="--short-listing-pages: paths must start with /"):
        sb.configure(short_listing_pages=["catalogue/page-2.html"])
