"""Plain Scrapy on one book page: the start-up baseline of ``benchmarks/startup.py``.

The plain spider's book extraction, one start URL, a JSON feed, Scrapy's defaults
otherwise (``python -m benchmarks.baselines.one_page URL OUT.json``).
"""

import sys

from scrapy.crawler import CrawlerProcess

from benchmarks.baselines.plain_scrapy import BooksSpider


class OneBookSpider(BooksSpider):
    name = "plain_one_book"

    def __init__(self, url: str, **kwargs):
        super().__init__(base="", **kwargs)
        self.start_urls = [url]

    def parse(self, response):
        return self.parse_book(response)


def main() -> None:
    url, out = sys.argv[1], sys.argv[2]
    process = CrawlerProcess(
        {
            "FEEDS": {out: {"format": "json", "encoding": "utf-8", "overwrite": True}},
            "LOG_LEVEL": "WARNING",
            "TELNETCONSOLE_ENABLED": False,
            "REMOTE_CONTROL_ENABLED": False,
        }
    )
    process.crawl(OneBookSpider, url=url)
    process.start()


if __name__ == "__main__":
    main()
