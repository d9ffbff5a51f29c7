"""A 1,000,000-book catalogue is served with flat memory: pages are computed, never stored."""

from __future__ import annotations

import random
import re

import psutil
import pytest
from parsel import Selector

from booksscraper.sandbox.testing import RunningSandbox, running_sandbox

from .net import get

pytestmark = pytest.mark.timeout(120)
MB = 1024 * 1024


def rss(sb: RunningSandbox) -> int:
    return psutil.Process(sb.pid).memory_info().rss


def warm(sb: RunningSandbox) -> None:
    get(sb.base_url, "")
    get(sb.base_url, "catalogue/page-2.html")


def test_million_books_flat_memory() -> None:
    with running_sandbox(books=1000, seed=5) as small:
        warm(small)
        small_rss = rss(small)
    with running_sandbox(books=1_000_000, seed=5) as sb:
        warm(sb)
        before = rss(sb)
        home = Selector(get(sb.base_url, "").body.decode())
        assert home.css("form strong::text").getall() == ["1000000", "1", "20"]
        assert home.css("ul.pager li.current::text").get().strip() == "Page 1 of 50000"
        last = get(sb.base_url, "catalogue/page-50000.html")
        assert last.status == 200
        hrefs = Selector(last.body.decode()).css("article.product_pod h3 a::attr(href)").getall()
        assert hrefs[-1].endswith("_1/index.html")
        assert get(sb.base_url, "catalogue/page-50001.html").status == 404
        rng = random.Random(1)
        for n in [1, 2, 25_000, 49_999] + [rng.randint(1, 50_000) for _ in range(40)]:
            page = get(sb.base_url, f"catalogue/page-{n}.html")
            assert page.status == 200
            for href in re.findall(rb'<h3><a href="([^"]+)"', page.body)[:5]:
                assert get(sb.base_url, "catalogue/" + href.decode()).status == 200
        default = get(sb.base_url, "catalogue/category/books/default_15/index.html")
        count = int(Selector(default.body.decode()).css("form strong::text").get())
        assert 140_000 < count < 165_000  # 15.2% of the books, as on the real site
        last_page = -(-count // 20)
        assert get(sb.base_url, f"catalogue/category/books/default_15/page-{last_page}.html") \
            .status == 200
        assert get(sb.base_url, f"catalogue/category/books/default_15/page-{last_page + 1}.html") \
            .status == 404
        for slug in ("travel_2", "mystery_3", "crime_51", "add-a-comment_18"):
            assert get(sb.base_url, f"catalogue/category/books/{slug}/page-3.html").status == 200
        after = rss(sb)
        # The category index is one array of 4-byte ids (4 MB); everything else is computed.
        assert after - before < 50 * MB, (before / MB, after / MB)
        assert after < small_rss + 60 * MB, (small_rss / MB, after / MB)
