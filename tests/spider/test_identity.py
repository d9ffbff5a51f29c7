"""A book's identity is its catalogue id and path: a link's query string or fragment is
not another book; a listing page says which range of books it shows."""

from __future__ import annotations

from parsel import Selector

from booksscraper.extraction.book import book_id_from_url, book_key, book_url
from booksscraper.extraction.listing import parse_listing_page
from tests.helpers import realsite_page

BOOK = "https://books.toscrape.com/catalogue/a-light-in-the-attic_1000/index.html"


def test_a_query_string_or_a_fragment_does_not_change_the_book() -> None:
    for link in (f"{BOOK}?ref=list", f"{BOOK}#reviews", f"{BOOK}?a=1&b=_7/index.html"):
        assert book_url(link) == BOOK
        assert book_id_from_url(link) == 1000
        assert book_key(link) == book_key(BOOK) == "id:1000"
    # The same book under another path (a category's relative link) is the same key.
    assert book_key("https://books.toscrape.com/catalogue/x/a-light-in-the-attic_1000/") == \
        "id:1000"


def test_the_real_listing_pages_say_their_range() -> None:
    home = parse_listing_page(Selector(text=realsite_page("index.html")),
                              "https://books.toscrape.com/index.html")
    assert (home.result_count, home.shown, home.expected_books) == (1000, (1, 20), 20)
    assert len(home.book_urls) == 20
