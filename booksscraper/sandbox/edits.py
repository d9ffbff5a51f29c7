"""A site that differs from what it says or from what crawlers expect (not wire faults).

Applied to the page before any fault or validator, on every request until the config
changes:

- ``short_listing_pages``: these listing paths show one book fewer than their range
  ("showing 981 to 1000" with 19 books): the last book is on no listing page;
- ``book_link_query``: every book link on listing pages carries this query string
  (``?ref=list``, as shops add for tracking);
- ``renamed_elements``: the layout changed: on every book page these elements carry
  another class (``price``: ``p.price_color`` becomes ``p.price_now``).
"""

from __future__ import annotations

import re

from .config import SandboxConfig

RENAMES = {"price": (b'<p class="price_color">', b'<p class="price_now">')}
_POD = re.compile(rb'<article class="product_pod">.*?</article>', re.S)
_BOOK_LINK = re.compile(rb'(href="[^"?#]*_\d+/index\.html)"')


def edited(config: SandboxConfig, kind: str, path: str, body: bytes) -> bytes:
    """``body`` as the config's edits change it (the same bytes when none applies)."""
    if kind == "book":
        main = body.find(b'class="col-sm-6 product_main"')
        for name in config.renamed_elements:
            old, new = RENAMES[name]
            body = body[:main] + body[main:].replace(old, new, 1) if main >= 0 else body
        return body
    if kind not in ("home", "listing", "category"):
        return body
    if path in config.short_listing_pages:
        pods = list(_POD.finditer(body))
        if pods:
            body = body[:pods[-1].start()] + body[pods[-1].end():]
    if config.book_link_query:
        query = config.book_link_query.encode()
        body = _POD.sub(lambda pod: _BOOK_LINK.sub(rb'\1' + query + b'"', pod.group()), body)
    return body
