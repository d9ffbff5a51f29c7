"""Rendered pages, in process: parity with the real site, determinism, pages match the truth."""

from __future__ import annotations

import re

import pytest
from parsel import Selector

from booksscraper.sandbox import Catalogue, render_book, render_category, render_home, route
from booksscraper.sandbox.text import truncate_words
from tests.helpers import realsite_page

from .extract import book_fields, listing_fields, pager, sidebar

BASE = "http://127.0.0.1/"
CAT = Catalogue(1000, seed=7)
HOME = "index.html"
MYSTERY = "catalogue/category/books/mystery_3/index.html"
ATTIC = "catalogue/a-light-in-the-attic_1000/index.html"
NO_DESC = ("catalogue/the-bridge-to-consciousness-im-writing-the-bridge-between-science-and-"
           "our-old-and-new-beliefs_840/index.html")


def page(path: str) -> str:
    _kind, body = route(CAT, "/" + path)
    assert body is not None, path
    return body.decode()


def book_without_description() -> int:
    return next(i for i in range(1, 1001) if CAT.book(i).description is None)


# -- structure parity with the saved real pages -------------------------------------------------
def test_home_parity() -> None:
    real, ours = realsite_page(HOME), page("index.html")
    assert sidebar(ours) == sidebar(real)  # the same 50 categories, slugs, ids and link depth
    for html in (real, ours):
        pods = listing_fields(html)
        assert len(pods) == 20
        for pod in pods:
            assert re.fullmatch(r"catalogue/[a-z0-9-]+_\d+/index\.html", pod["href"])
            assert re.fullmatch(r"media/cache/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{32}\.jpg",
                                pod["img"])
            assert pod["availability"] == "In stock"
            assert re.fullmatch(r"£\d+\.\d\d", pod["price"])
            assert re.fullmatch(r"star-rating (One|Two|Three|Four|Five)", pod["rating"])
            assert pod["text"] == truncate_words(pod["title"])
        assert pager(html) == {"current": "Page 1 of 50", "next": "catalogue/page-2.html",
                               "previous": None, "results": ["1000", "1", "20"]}
        crumbs = Selector(html).css("ul.breadcrumb li")
        assert [c.css("a::attr(href)").get() for c in crumbs] == ["index.html", None]
    # ids descending from the last book, as on the real site
    assert listing_fields(ours)[0]["href"].endswith("_1000/index.html")
    assert listing_fields(real)[0]["href"].endswith("_1000/index.html")


def test_category_parity() -> None:
    real = realsite_page(MYSTERY)
    ours = page(MYSTERY)
    assert sidebar(ours) == sidebar(real)
    assert len(CAT.category_ids(1)) > 20  # paginated like the real Mystery page
    for html in (real, ours):
        pods = listing_fields(html)
        assert len(pods) == 20
        assert all(re.fullmatch(r"\.\./\.\./\.\./[a-z0-9-]+_\d+/index\.html", p["href"])
                   for p in pods)
        assert all(p["img"].startswith("../../../../media/cache/") for p in pods)
        info = pager(html)
        assert re.fullmatch(r"Page 1 of 2", info["current"])
        assert info["next"] == "page-2.html" and info["previous"] is None
        assert info["results"][1:] == ["1", "20"]
        sel = Selector(html)
        assert sel.css("div.page-header h1::text").get() == "Mystery"
        assert [c.css("a::attr(href)").get() for c in sel.css("ul.breadcrumb li")] == [
            "../../../../index.html", "../../books_1/index.html", None]
        assert sel.css(".side_categories li ul li a strong::text").get() == "Mystery"


def test_book_parity_with_description() -> None:
    real = Selector(realsite_page(ATTIC))
    book = next(b for b in map(CAT.book, range(1000, 0, -1)) if b.description_raw
                and b.description_raw.endswith(" ...more"))
    ours = Selector(render_book(CAT, book.id).decode())
    for sel in (real, ours):
        assert sel.css("table.table-striped th::text").getall() == [
            "UPC", "Product Type", "Price (excl. tax)", "Price (incl. tax)", "Tax", "Availability",
            "Number of reviews"]
        assert re.fullmatch(r"In stock \(\d+ available\)",
                            " ".join(sel.css("p.instock.availability::text").getall()).strip())
        assert re.fullmatch(r"star-rating (One|Two|Three|Four|Five)",
                            sel.css("div.product_main p.star-rating::attr(class)").get())
        hrefs = [li.css("a::attr(href)").get() for li in sel.css("ul.breadcrumb li")]
        assert hrefs[:2] == ["../../index.html", "../category/books_1/index.html"]
        assert re.fullmatch(r"\.\./category/books/[a-z0-9-]+_\d+/index\.html", hrefs[2])
        assert hrefs[3] is None
        assert sel.css("ul.breadcrumb li.active::text").get() == sel.css("h1::text").get()
        assert re.fullmatch(r"\.\./\.\./media/cache/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{32}\.jpg",
                            sel.css("#product_gallery img::attr(src)").get())
        assert sel.css("table.table-striped td::text").getall()[4] == "£0.00"
        desc = sel.xpath('//div[@id="product_description"]/following-sibling::p[1]/text()').get()
        assert desc.endswith(" ...more")
        body = desc[: -len(" ...more")]
        # the opening (cut mid-word, 300+ characters), a space, then the full text again
        cut = next(i for i in range(len(body) // 2, 0, -1)
                   if body[i] == " " and body[i + 1:].startswith(body[:i]))
        assert cut >= 300


def test_book_parity_without_description() -> None:
    real = Selector(realsite_page(NO_DESC))
    ours = Selector(render_book(CAT, book_without_description()).decode())
    for sel in (real, ours):
        assert sel.css("#product_description").get() is None
        assert sel.xpath('//div[@id="product_description"]/following-sibling::p').get() is None
        assert len(sel.css("table.table-striped tr")) == 7
        assert sel.css("meta[name=description]::attr(content)").get().strip() == ""


def test_escaping_follows_the_real_site() -> None:
    real = realsite_page(MYSTERY)
    assert 'title="The Bachelor Girl&#39;s Guide' in real
    book = next(b for b in map(CAT.book, range(1, 1001)) if "'" in b.title)
    html = render_book(CAT, book.id).decode()
    assert "&#39;" in html and "&#x27;" not in html


# -- determinism ----------------------------------------------------------------------------------
def test_same_seed_same_bytes_in_any_order() -> None:
    a, b = Catalogue(1000, seed=3), Catalogue(1000, seed=3)
    paths = ["/", "/catalogue/page-7.html", "/catalogue/category/books/default_15/page-2.html",
             "/" + a.book(500).path, "/" + a.book(1).path]
    first = [route(a, p)[1] for p in paths]
    second = [route(b, p)[1] for p in reversed(paths)][::-1]
    assert first == second
    assert [a.truth(i) for i in (1, 500, 1000)] == [b.truth(i) for i in (1, 500, 1000)]


def test_different_seed_different_catalogue() -> None:
    a, b = Catalogue(1000, seed=3), Catalogue(1000, seed=4)
    assert render_home(a) != render_home(b)
    assert sum(a.truth(i)["title"] == b.truth(i)["title"] for i in range(1, 101)) < 10


def test_catalogue_size_does_not_change_books() -> None:
    small, big = Catalogue(100, seed=9), Catalogue(100_000, seed=9)
    assert [small.truth(i) for i in range(1, 101)] == [big.truth(i) for i in range(1, 101)]


# -- the truth matches what the pages show ---------------------------------------------------------
def test_truth_matches_book_pages() -> None:
    for book_id in range(1, 1001, 3):
        truth = CAT.truth(book_id, BASE)
        html = render_book(CAT, book_id).decode()
        assert book_fields(html, truth["url"]) == truth, book_id


def test_truth_matches_listings_and_categories() -> None:
    seen: dict[int, str] = {}
    for n in range(1, 51):
        for pod in listing_fields(page(f"catalogue/page-{n}.html")):
            book_id = int(pod["href"].rsplit("_", 1)[1].split("/")[0])
            t = CAT.truth(book_id)
            assert pod["title"] == t["title"] and pod["price"] == "£" + t["price"]
            words = ["One", "Two", "Three", "Four", "Five"]
            assert pod["rating"].split()[1] == words[t["rating"] - 1]
            assert pod["text"] == truncate_words(t["title"])
            seen[book_id] = t["category"]
    assert sorted(seen) == list(range(1, 1001))
    for index, category in enumerate(CAT.categories):
        ids = []
        for n in range(1, 100):
            body = render_category(CAT, index, n)
            if body is None:
                break
            ids += [int(p["href"].rsplit("_", 1)[1].split("/")[0])
                    for p in listing_fields(body.decode())]
        assert ids == sorted((i for i, c in seen.items() if c == category.name), reverse=True)


def test_values_are_varied_enough_to_catch_bugs() -> None:
    truths = [CAT.truth(i) for i in range(1, 1001)]
    titles = " ".join(t["title"] for t in truths)
    for needle in ("&", "<", ">", '"', "'", "é"):
        assert needle in titles, needle
    assert re.search(r"[\u4e00-\u9fff]", titles) and re.search(r"[\U0001F300-\U0001FAFF]", titles)
    assert any(len(t["title"].split()) > 25 for t in truths)
    assert any(t["price"].endswith(".00") for t in truths)
    assert any(t["price"].endswith("0") and not t["price"].endswith(".00") for t in truths)
    assert {t["rating"] for t in truths} == {1, 2, 3, 4, 5}
    stock = [t["availability"] for t in truths]
    assert min(stock) == 1 and max(stock) > 20
    assert any(t["description"] is None for t in truths)
    assert any(t["description"] and t["description"] == t["description_raw"] for t in truths)
    assert any(t["description_raw"] and t["description_raw"].endswith(" ...more") for t in truths)
    assert len({t["upc"] for t in truths}) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{16}", t["upc"]) for t in truths)
    assert {t["category"] for t in truths} >= {"Default", "Add a comment"}


def test_escaped_markup_round_trips() -> None:
    book = next(b for b in map(CAT.book, range(1, 1001)) if "<" in b.title or "&" in b.title)
    sel = Selector(render_book(CAT, book.id).decode())
    assert sel.css("h1::text").get() == book.title
    assert sel.css("h1 *").get() is None  # "<br>" in a title must stay text, not markup


def test_listing_cuts_titles_like_the_real_site() -> None:
    real = listing_fields(realsite_page(MYSTERY))
    texts = {p["title"]: p["text"] for p in real}
    assert texts["In a Dark, Dark Wood"] == "In a Dark, Dark ..."
    assert texts["The Past Never Ends"] == "The Past Never Ends"
    for title, text in texts.items():
        assert truncate_words(title) == text


@pytest.mark.parametrize("path", [
    "/catalogue/page-51.html", "/catalogue/page-0.html", "/catalogue/nope_5/index.html",
    "/catalogue/category/books/mystery_99/index.html",
    "/catalogue/category/books/mystery_3/page-3.html",
    "/catalogue/x_1001/index.html", "/robots.txt", "/static/oscar/css/styles.css", "/index.htm",
])
def test_not_found(path: str) -> None:
    assert route(CAT, path)[1] is None


def test_variants() -> None:
    book_id = 10
    normal = Selector(render_book(CAT, book_id).decode())
    no_price = Selector(render_book(CAT, book_id, "no_price").decode())
    bad = Selector(render_book(CAT, book_id, "bad_rating").decode())
    assert normal.css("p.price_color").get() and not no_price.css("p.price_color").get()
    assert "Price (excl. tax)" not in no_price.css("th::text").getall()
    assert bad.css("p.star-rating::attr(class)").get().split()[1] not in (
        "One", "Two", "Three", "Four", "Five")
