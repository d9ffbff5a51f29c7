"""Threads: the sequential fetch and parse in a ThreadPoolExecutor of 16 workers."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin

import requests

from benchmarks.baselines.common import arguments, book_fields, decode, finish, listing_links

local = threading.local()


def get(url: str) -> bytes:
    if not hasattr(local, "session"):
        local.session = requests.Session()
    return local.session.get(url, timeout=30).content


def scrape_book(url: str) -> dict:
    return book_fields(decode(get(url)), url)


def main() -> None:
    base, out, workers = arguments()
    started = time.perf_counter()
    # Listing pages one after another (each names the next), then books in parallel.
    book_urls, page, pages = [], urljoin(base, "catalogue/page-1.html"), 0
    while page:
        links, page_next = listing_links(decode(get(page)), page)
        book_urls += links
        page, pages = page_next, pages + 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        books = list(pool.map(scrape_book, book_urls))
    finish(books, out, started, pages + len(books))


if __name__ == "__main__":
    main()
