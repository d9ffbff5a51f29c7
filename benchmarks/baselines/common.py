"""What every baseline shares: BeautifulSoup extraction to the same fields as ours.

Written the way the articles write it (find/select on a soup), so the
comparison is with what people would otherwise run, not with our code.
"""

from __future__ import annotations

import json
import re
import sys
import time
from urllib.parse import urljoin

from bs4 import BeautifulSoup

RATINGS = {"One": 1, "Two": 2, "Three": 3, "Four": 4, "Five": 5}


def listing_links(html: str, url: str) -> tuple[list[str], str | None]:
    """Book links of a listing page and the absolute URL of the next page."""
    soup = BeautifulSoup(html, "html.parser")
    books = [urljoin(url, a["href"]) for a in soup.select("article.product_pod h3 a")]
    nxt = soup.select_one("li.next a")
    return books, urljoin(url, nxt["href"]) if nxt else None


def book_fields(html: str, url: str) -> dict:
    soup = BeautifulSoup(html, "html.parser")
    main = soup.select_one("div.product_main")
    rows = soup.select("table tr")
    table = {tr.th.get_text(strip=True): tr.td.get_text(strip=True) for tr in rows}
    price = main.select_one("p.price_color").get_text(strip=True)
    rating = next(c for c in main.select_one("p.star-rating")["class"] if c in RATINGS)
    availability = table["Availability"]
    described = soup.select_one("#product_description")
    description = described.find_next_sibling("p").get_text() if described else None
    return {
        "url": url,
        "book_id": int(re.search(r"_(\d+)/index\.html$", url).group(1)),
        "upc": table["UPC"],
        "title": main.h1.get_text(strip=True),
        "price": price.lstrip("£"),
        "currency": "GBP" if price.startswith("£") else None,
        "price_excl_tax": table["Price (excl. tax)"].lstrip("£"),
        "price_incl_tax": table["Price (incl. tax)"].lstrip("£"),
        "tax": table["Tax"].lstrip("£"),
        "availability": int(re.search(r"(\d+) available", availability).group(1)),
        "in_stock": availability.startswith("In stock"),
        "rating": RATINGS[rating],
        "category": soup.select("ul.breadcrumb li a")[2].get_text(strip=True),
        "description": description,
        "image_url": urljoin(url, soup.select_one("#product_gallery img")["src"]),
        "review_count": int(table["Number of reviews"]),
    }


def decode(body: bytes) -> str:
    # The site's Content-Type names no charset; the pages are UTF-8 (meta tag).
    return body.decode("utf-8")


def finish(books: list[dict], out_path: str, started: float, pages: int) -> None:
    """Write the JSON and print one line of figures for the benchmark harness."""
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(books, f, ensure_ascii=False)
    elapsed = time.perf_counter() - started
    print(json.dumps({"pages": pages, "books": len(books), "crawl_seconds": elapsed}))


def arguments() -> tuple[str, str, int]:
    """BASE_URL OUT.json [CONCURRENCY]"""
    base, out = sys.argv[1], sys.argv[2]
    concurrency = int(sys.argv[3]) if len(sys.argv) > 3 else 16
    return base, out, concurrency
