"""Not a crawler: the transport floor of this machine and sandbox.

Fetches the very pages a crawl fetches (robots.txt, every listing page, every
book page: their URLs come from the sandbox's ground truth before the clock
starts) with one aiohttp session and 16 requests in flight, reading each body
and parsing nothing. No ordering, no politeness, no work: what any Python
client here could at best do at this concurrency. It writes an empty book list.
"""

import asyncio
import json
import math
import time
from urllib.parse import urljoin
from urllib.request import urlopen

import aiohttp

from benchmarks.baselines.common import arguments, finish

PER_PAGE = 20


def crawl_urls(base: str) -> list[str]:
    with urlopen(urljoin(base, "__catalogue.jsonl")) as reply:
        books = [json.loads(line)["url"] for line in reply if line.strip()]
    pages = max(1, math.ceil(len(books) / PER_PAGE))
    listings = [urljoin(base, f"catalogue/page-{n}.html") for n in range(2, pages + 1)]
    return [urljoin(base, "robots.txt"), base, *listings, *books]


async def fetch_all(urls: list[str], concurrency: int) -> None:
    semaphore = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def fetch(url: str) -> None:
            async with semaphore, session.get(url) as response:
                await response.read()

        await asyncio.gather(*(fetch(url) for url in urls))


def main() -> None:
    base, out, concurrency = arguments()
    urls = crawl_urls(base)
    started = time.perf_counter()
    asyncio.run(fetch_all(urls, concurrency))
    finish([], out, started, len(urls))


if __name__ == "__main__":
    main()
