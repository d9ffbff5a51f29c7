"""Hostile pages for the bad-input tests: GET /__hostile/<name>.

``/__hostile/listing.html`` is a listing page whose book links point at every
other page here (and at two real books), so a crawl started there meets them
all as book pages:

- ``huge-<N>.html``: a 200 HTML page of N bytes (over DOWNLOAD_MAXSIZE).
- ``huge-chunked-<N>.html``: the same without Content-Length (chunked), so the
  size is only known once the limit is passed.
- ``loop.html``: a redirect to itself; ``chain-<n>.html``: an endless chain of redirects.
- ``offsite.html``: a redirect to a real book under another host name (localhost);
  the listing also links to that book directly.
- ``book.pdf`` / ``book.jpg``: a book URL answering a PDF / a JPEG, not HTML.
- ``gzip-bomb-<MiB>.html``: ``Content-Encoding: gzip``, about 1 KiB per MiB on
  the wire, <MiB> MiB of zeros once decompressed.

Like every /__ path they are never faulted nor counted in /__stats.
"""

from __future__ import annotations

import functools
import re
import zlib
from urllib.parse import urlsplit

from .catalogue import Catalogue
from .replies import Reply, error_page, redirect
from .routes import TINY_JPEG

PREFIX = "/__hostile/"
HUGE_DEFAULT = 12 * 1024 * 1024  # over Scrapy's and the project's DOWNLOAD_MAXSIZE (10 MiB)
BOMB_MIB_DEFAULT = 512
BOMB_MIB_MAX = 4096
_HUGE = re.compile(r"huge-([0-9]{1,10})\.html")
HUGE_CHUNKED = re.compile(r"huge-chunked-([0-9]{1,10})\.html")
_CHAIN = re.compile(r"chain-([0-9]{1,6})\.html")
_BOMB = re.compile(r"gzip-bomb-([0-9]{1,4})\.html")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def offsite_book_url(cat: Catalogue, base_url: str) -> str:
    """A real book of this sandbox under another host name: off the site for a crawler."""
    return f"http://localhost:{urlsplit(base_url).port}/catalogue/{cat.book(3).slug}_3/index.html"


def hostile_links(cat: Catalogue, base_url: str) -> list[str]:
    """What the hostile listing links to, relative to /__hostile/; two real books last."""
    real = [f"../catalogue/{cat.book(i).slug}_{i}/index.html" for i in (1, 2)]
    return [
        f"huge-{HUGE_DEFAULT}.html", f"huge-chunked-{HUGE_DEFAULT}.html",
        "loop.html", "chain-0.html", "offsite.html",
        offsite_book_url(cat, base_url), "book.pdf", "book.jpg",
        f"gzip-bomb-{BOMB_MIB_DEFAULT}.html", *real,
    ]


def _listing(cat: Catalogue, base_url: str) -> bytes:
    pods = "".join(
        f'<li><article class="product_pod"><h3><a href="{href}" title="{href}">{href}</a></h3>'
        "</article></li>\n"
        for href in hostile_links(cat, base_url)
    )
    return (
        "<!DOCTYPE html>\n<html><head><title>Hostile listing | Books to Scrape - Sandbox</title>"
        f'</head>\n<body><ol class="row">\n{pods}</ol></body></html>\n'
    ).encode()


@functools.lru_cache(maxsize=2)
def gzip_bomb(mib: int) -> bytes:
    """gzip of `mib` MiB of zero bytes, built once per size."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip container
    chunk = bytes(1024 * 1024)
    parts = [packer.compress(chunk) for _ in range(mib)]
    parts.append(packer.flush())
    return b"".join(parts)


def reply(cat: Catalogue, path: str, base_url: str) -> Reply:
    name = path[len(PREFIX):]
    if name == "listing.html":
        return Reply(200, _listing(cat, base_url))
    if m := _HUGE.fullmatch(name):
        size = int(m.group(1))
        head = b"<!DOCTYPE html>\n<html><body><p>"
        tail = b"</p></body></html>\n"
        return Reply(200, head + b"x" * max(0, size - len(head) - len(tail)) + tail)
    if name == "loop.html":
        return redirect(f"{base_url}__hostile/loop.html")
    if m := _CHAIN.fullmatch(name):
        return redirect(f"chain-{int(m.group(1)) + 1}.html")
    if name == "offsite.html":
        return redirect(offsite_book_url(cat, base_url))
    if name == "book.pdf":
        return Reply(200, PDF, "application/pdf")
    if name == "book.jpg":
        return Reply(200, TINY_JPEG, "image/jpeg")
    if (m := _BOMB.fullmatch(name)) and 1 <= int(m.group(1)) <= BOMB_MIB_MAX:
        return Reply(200, gzip_bomb(int(m.group(1))), "text/html",
                     (("Content-Encoding", "gzip"),))
    return error_page(404)
