"""Not a crawler: Scrapy's transport floor, the same pages fetched and nothing done.

Like fetch_floor (the URLs from the sandbox's ground truth, fetched in any
order), but through Scrapy with booksscraper's transport settings: Twisted's
HTTP/1.1 handler, booksscraper's per-slot downloader, 2 x CONCURRENCY requests
in the engine and CONCURRENCY per domain. The gap between this floor and
fetch_floor is Scrapy's own cost per request; the gap between it and
booksscraper is everything booksscraper does on top.
"""

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import scrapy
from scrapy.crawler import CrawlerProcess

from benchmarks.baselines.fetch_floor import crawl_urls


class FetchOnly(scrapy.Spider):
    name = "fetch_only"

    def __init__(self, urls: list[str], **kwargs):
        super().__init__(**kwargs)
        self.urls = urls

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.urls:
            yield scrapy.Request(url, callback=self.parse, dont_filter=True)

    def parse(self, response):
        return None


def main() -> None:
    base, out = sys.argv[1], sys.argv[2]
    concurrency = int(sys.argv[3]) if len(sys.argv) > 3 else 16
    urls = crawl_urls(base)
    process = CrawlerProcess(
        {
            "CONCURRENT_REQUESTS": 2 * concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
            "DOWNLOADER": "booksscraper.pacing.downloader.PerSlotLimitDownloader",
            "HTTPERROR_ALLOW_ALL": True,  # robots.txt may be a 404: fetched all the same
            "LOG_LEVEL": "ERROR",
            "TELNETCONSOLE_ENABLED": False,
            "REMOTE_CONTROL_ENABLED": False,
        }
    )
    crawler = process.create_crawler(FetchOnly)
    process.crawl(crawler, urls=urls)
    process.start()
    stats = crawler.stats.get_stats()
    Path(out).write_text("[]", encoding="utf-8")
    print(json.dumps({
        "pages": stats.get("response_received_count", 0),
        "books": 0,
        "crawl_seconds": stats["elapsed_time_seconds"],
    }))


if __name__ == "__main__":
    main()
