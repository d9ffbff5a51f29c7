"""Validators of catalogue pages (ETag, Last-Modified) and the 304 they allow (RFC 9110, 13).

The ETag is a hash of the rendered body, so it changes exactly when the page does. Last-Modified
is the time of the catalogue change that last touched the page (a book page: a change of that
book; a listing page: any change), or a day before the sandbox started for a page never changed.
If-None-Match wins over If-Modified-Since, as the RFC says.
"""

from __future__ import annotations

import hashlib
from email.utils import formatdate, parsedate_to_datetime


def etag(body: bytes) -> str:
    return '"' + hashlib.md5(body, usedforsecurity=False).hexdigest()[:20] + '"'


def http_time(epoch: int) -> str:
    return formatdate(epoch, usegmt=True)


def not_modified(headers: dict[str, str], tag: str, modified: int) -> bool:
    """Whether a request's If-None-Match / If-Modified-Since says it has this page already."""
    match = headers.get("if-none-match")
    if match is not None:
        tags = {t.strip().removeprefix("W/") for t in match.split(",")}
        return "*" in tags or tag in tags
    since = headers.get("if-modified-since")
    if since:
        try:
            return modified <= parsedate_to_datetime(since).timestamp()
        except (TypeError, ValueError):
            return False  # an unparseable date is ignored (RFC 9110, 13.1.3)
    return False
