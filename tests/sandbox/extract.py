"""One set of selectors, applied alike to real pages and sandbox pages."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

from parsel import Selector

RATINGS = {"One": 1, "Two": 2, "Three": 3, "Four": 4, "Five": 5}


def norm(text: str | None) -> str:
    return " ".join((text or "").split())


def book_fields(html: str, url: str) -> dict[str, Any]:
    """What a spider extracts from a book page, with the item's field names."""
    sel = Selector(html)
    main = sel.css("div.product_main")
    table = {norm(r.css("th::text").get()): norm(r.css("td::text").get())
             for r in sel.css("table.table-striped tr")}
    stock = norm(table.get("Availability"))
    m = re.fullmatch(r"In stock \((\d+) available\)", stock)
    rating_words = main.css("p.star-rating::attr(class)").get("").split()
    desc = sel.xpath('//div[@id="product_description"]/following-sibling::p[1]/text()').get()
    desc_raw = desc
    if desc is not None and desc.endswith(" ...more"):
        # The page repeats the opening, then the full text: keep the full text once.
        body = desc[: -len(" ...more")]
        half = next(i for i in range(len(body) // 2, 0, -1) if body[i] == " " and
                    body[i + 1:].startswith(body[:i]))
        desc = body[half + 1:]
    crumbs = sel.css("ul.breadcrumb li")
    price = main.css("p.price_color::text").get("")
    return {
        "url": url,
        "book_id": int(re.search(r"_(\d+)/index\.html$", url).group(1)),
        "upc": table.get("UPC"),
        "title": main.css("h1::text").get(),
        "price": price.removeprefix("£"),
        "currency": "GBP" if price.startswith("£") else None,
        "price_excl_tax": table.get("Price (excl. tax)", "").removeprefix("£"),
        "price_incl_tax": table.get("Price (incl. tax)", "").removeprefix("£"),
        "tax": table.get("Tax", "").removeprefix("£"),
        "availability": int(m.group(1)) if m else None,
        "in_stock": stock.startswith("In stock"),
        "rating": RATINGS.get(rating_words[-1]) if len(rating_words) == 2 else None,
        "category": crumbs[2].css("a::text").get() if len(crumbs) == 4 else None,
        "description": desc,
        "description_raw": desc_raw,
        "image_url": urljoin(url, sel.css("#product_gallery img::attr(src)").get()),
        "review_count": int(table.get("Number of reviews", "-1")),
    }


def listing_fields(html: str) -> list[dict[str, Any]]:
    return [
        {
            "href": pod.css("h3 a::attr(href)").get(),
            "title": pod.css("h3 a::attr(title)").get(),
            "text": pod.css("h3 a::text").get(),
            "price": pod.css("p.price_color::text").get(),
            "rating": pod.css("p.star-rating::attr(class)").get(),
            "availability": norm(" ".join(pod.css("p.instock.availability::text").getall())),
            "img": pod.css("div.image_container img::attr(src)").get(),
        }
        for pod in Selector(html).css("article.product_pod")
    ]


def pager(html: str) -> dict[str, Any]:
    sel = Selector(html)
    return {
        "current": norm(sel.css("ul.pager li.current::text").get()),
        "next": sel.css("ul.pager li.next a::attr(href)").get(),
        "previous": sel.css("ul.pager li.previous a::attr(href)").get(),
        "results": sel.css("form.form-horizontal strong::text").getall(),
    }


def sidebar(html: str) -> list[tuple[str, str]]:
    return [(a.attrib["href"], norm(" ".join(a.css("::text").getall())))
            for a in Selector(html).css(".side_categories ul li ul li a")]
