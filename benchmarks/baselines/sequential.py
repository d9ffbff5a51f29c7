"""Sequential: requests.get one page at a time, BeautifulSoup (html.parser)."""

import time
from urllib.parse import urljoin

import requests

from benchmarks.baselines.common import arguments, book_fields, decode, finish, listing_links


def main() -> None:
    base, out, _ = arguments()
    started = time.perf_counter()
    session = requests.Session()
    book_urls, page = [], urljoin(base, "catalogue/page-1.html")
    pages = 0
    while page:
        response = session.get(page, timeout=30)
        pages += 1
        links, page = listing_links(decode(response.content), response.url)
        book_urls += links
    books = []
    for url in book_urls:
        books.append(book_fields(decode(session.get(url, timeout=30).content), url))
        pages += 1
    finish(books, out, started, pages)


if __name__ == "__main__":
    main()
