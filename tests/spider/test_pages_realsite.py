"""Extraction on the real site's saved pages (tests/fixtures/realsite)."""

from decimal import Decimal

from parsel import Selector

from booksscraper.extraction.book import parse_book_page
from booksscraper.extraction.listing import parse_listing_page
from tests.helpers import realsite_page

SITE = "https://books.toscrape.com/"
ATTIC = "catalogue/a-light-in-the-attic_1000/index.html"
BRIDGE = (
    "catalogue/the-bridge-to-consciousness-im-writing-the-bridge-between-science"
    "-and-our-old-and-new-beliefs_840/index.html"
)


def page(relative: str) -> Selector:
    return Selector(text=realsite_page(relative))


def test_book_page_fields() -> None:
    item = parse_book_page(page(ATTIC), SITE + ATTIC)
    assert item.url == SITE + ATTIC
    assert item.book_id == 1000
    assert item.upc == "a897fe39b1053632"
    assert item.title == "A Light in the Attic"
    assert item.price == Decimal("51.77") and item.currency == "GBP"
    assert item.price_excl_tax == item.price_incl_tax == Decimal("51.77")
    assert item.tax == Decimal("0.00")
    assert (item.availability, item.in_stock) == (22, True)
    assert item.rating == 3
    assert item.category == "Poetry"
    assert item.review_count == 0
    assert item.image_url == SITE + "media/cache/fe/72/fe72f0532301ec28892ae79a629a293c.jpg"
    assert item.description.startswith("It's hard to imagine a world without A Light")
    assert item.description.endswith("Shel, you never sounded so good. ...more")
    assert item.scraped_at.endswith("+00:00")


def test_book_page_without_description() -> None:
    item = parse_book_page(page(BRIDGE), SITE + BRIDGE)
    assert item.description is None
    assert item.book_id == 840
    assert item.title.startswith("The Bridge to Consciousness: I'm Writing")
    assert item.category == "Default"
    assert item.price == Decimal("32.00")


def test_home_page_lists_books_and_every_other_page() -> None:
    listing = parse_listing_page(page("index.html"), SITE + "index.html")
    assert len(listing.book_urls) == 20
    assert listing.book_urls[0] == SITE + ATTIC
    assert (listing.page, listing.page_count) == (1, 50)
    others = listing.other_page_urls()
    assert others[0] == SITE + "catalogue/page-2.html"
    assert others[-1] == SITE + "catalogue/page-50.html"
    assert len(others) == 49


def test_category_page_links_resolve_three_levels_up() -> None:
    url = SITE + "catalogue/category/books/mystery_3/index.html"
    listing = parse_listing_page(page("catalogue/category/books/mystery_3/index.html"), url)
    assert listing.book_urls[0] == SITE + "catalogue/sharp-objects_997/index.html"
    assert listing.other_page_urls() == [SITE + "catalogue/category/books/mystery_3/page-2.html"]


def test_a_book_page_is_not_a_listing() -> None:
    listing = parse_listing_page(page(ATTIC), SITE + ATTIC)
    assert listing.book_urls == [] and listing.page is None
    assert listing.other_page_urls() == []
