"""Hybrid: aiohttp fetching as in asyncio_gather, each page parsed in a
ProcessPoolExecutor through loop.run_in_executor."""

import asyncio
import time
from concurrent.futures import ProcessPoolExecutor
from urllib.parse import urljoin

import aiohttp

from benchmarks.baselines.common import arguments, book_fields, decode, finish, listing_links


async def fetch(session: aiohttp.ClientSession, semaphore: asyncio.Semaphore, url: str) -> str:
    async with semaphore, session.get(url) as response:
        return decode(await response.read())


async def crawl(base: str, concurrency: int, pool: ProcessPoolExecutor) -> tuple[list[dict], int]:
    loop = asyncio.get_running_loop()
    semaphore = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        book_urls, page, pages = [], urljoin(base, "catalogue/page-1.html"), 0
        while page:
            html = await fetch(session, semaphore, page)
            links, next_page = await loop.run_in_executor(pool, listing_links, html, page)
            book_urls += links
            page, pages = next_page, pages + 1

        async def scrape(url: str) -> dict:
            html = await fetch(session, semaphore, url)
            return await loop.run_in_executor(pool, book_fields, html, url)

        books = await asyncio.gather(*(scrape(url) for url in book_urls))
    return list(books), pages + len(books)


def main() -> None:
    base, out, concurrency = arguments()
    started = time.perf_counter()
    with ProcessPoolExecutor() as pool:
        books, pages = asyncio.run(crawl(base, concurrency, pool))
    finish(books, out, started, pages)


if __name__ == "__main__":
    main()
