"""Plain Scrapy: a minimal idiomatic spider (parsel, response.follow_all), no
custom middlewares or pipelines, run with CrawlerProcess and a JSON feed.

    python -m benchmarks.baselines.plain_scrapy BASE_URL OUT.json [CONCURRENCY] [NAME=VALUE...]

Each ``NAME=VALUE`` is one more Scrapy setting (e.g. ``ROBOTSTXT_OBEY=True``).
"""

import json
import re
import sys
import time

import scrapy
from scrapy.crawler import CrawlerProcess

RATINGS = {"One": 1, "Two": 2, "Three": 3, "Four": 4, "Five": 5}


class BooksSpider(scrapy.Spider):
    name = "plain_books"

    def __init__(self, base: str, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [base + "catalogue/page-1.html"]

    def parse(self, response):
        yield from response.follow_all(css="article.product_pod h3 a", callback=self.parse_book)
        yield from response.follow_all(css="li.next a", callback=self.parse)

    def parse_book(self, response):
        table = dict(zip(response.css("table th::text").getall(),
                         response.css("table td::text").getall(), strict=False))
        main = response.css("div.product_main")
        price = main.css("p.price_color::text").get()
        stars = main.css("p.star-rating::attr(class)").get().split()[-1]
        described = response.css("#product_description + p")
        yield {
            "url": response.url,
            "book_id": int(re.search(r"_(\d+)/index\.html$", response.url).group(1)),
            "upc": table["UPC"],
            "title": main.css("h1::text").get(),
            "price": price.lstrip("£"),
            "currency": "GBP",
            "price_excl_tax": table["Price (excl. tax)"].lstrip("£"),
            "price_incl_tax": table["Price (incl. tax)"].lstrip("£"),
            "tax": table["Tax"].lstrip("£"),
            "availability": int(re.search(r"(\d+) available", table["Availability"]).group(1)),
            "in_stock": table["Availability"].startswith("In stock"),
            "rating": RATINGS[stars],
            "category": response.css("ul.breadcrumb li a::text").getall()[2],
            "description": described.xpath("string()").get() if described else None,
            "image_url": response.urljoin(response.css("#product_gallery img::attr(src)").get()),
            "review_count": int(table["Number of reviews"]),
        }


def main() -> None:
    base, out = sys.argv[1], sys.argv[2]
    concurrency = int(sys.argv[3]) if len(sys.argv) > 3 else 16
    settings = {
        "FEEDS": {out: {"format": "json", "encoding": "utf-8", "overwrite": True}},
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "LOG_LEVEL": "ERROR",
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
    }
    settings.update(pair.split("=", 1) for pair in sys.argv[4:])
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BooksSpider)
    started = time.perf_counter()
    process.crawl(crawler, base=base)
    process.start()
    stats = crawler.stats.get_stats()
    print(json.dumps({
        "pages": stats.get("response_received_count", 0),
        "books": stats.get("item_scraped_count", 0),
        "crawl_seconds": time.perf_counter() - started,
    }))


if __name__ == "__main__":
    main()
