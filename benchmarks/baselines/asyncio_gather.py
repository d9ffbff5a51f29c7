"""asyncio: one aiohttp.ClientSession, an asyncio.Semaphore(16), asyncio.gather,
BeautifulSoup parsing in the event loop."""

import asyncio
import time
from urllib.parse import urljoin

import aiohttp

from benchmarks.baselines.common import arguments, book_fields, decode, finish, listing_links


async def fetch(session: aiohttp.ClientSession, semaphore: asyncio.Semaphore, url: str) -> str:
    async with semaphore, session.get(url) as response:
        return decode(await response.read())


async def crawl(base: str, concurrency: int) -> tuple[list[dict], int]:
    semaphore = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        book_urls, page, pages = [], urljoin(base, "catalogue/page-1.html"), 0
        while page:
            links, next_page = listing_links(await fetch(session, semaphore, page), page)
            book_urls += links
            page, pages = next_page, pages + 1

        async def scrape(url: str) -> dict:
            return book_fields(await fetch(session, semaphore, url), url)

        books = await asyncio.gather(*(scrape(url) for url in book_urls))
    return list(books), pages + len(books)


def main() -> None:
    base, out, concurrency = arguments()
    started = time.perf_counter()
    books, pages = asyncio.run(crawl(base, concurrency))
    finish(books, out, started, pages)


if __name__ == "__main__":
    main()
