"""Canned answers: error pages, the ban page, Retry-After values."""

from __future__ import annotations

import email.utils
import time
from typing import NamedTuple

BLOCKED_MARKER = "SANDBOX-BLOCKED"
# What a ban looks like (403, or 200 when ban_response="200"): a ban policy detects it by the
# <title>Access denied</title> and the marker text, since the status alone may say 200.
BLOCKED_PAGE = (
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Access denied</title></head>\n"
    "<body><h1>Access denied</h1>\n"
    f"<p id=\"blocked\">{BLOCKED_MARKER}: your IP address or User-Agent has been blocked "
    "because of too many requests.</p>\n</body></html>\n"
).encode()

REASONS = {
    200: "OK", 304: "Not Modified", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout",
}


class Reply(NamedTuple):
    status: int
    body: bytes
    content_type: str = "text/html"
    headers: tuple[tuple[str, str], ...] = ()


# A 200 that is not the page asked for: what a site's bot wall or login redirect serves.
CAPTCHA_PAGE = (
    b"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Just a moment...</title></head>\n"
    b"<body><h1>Verify you are human</h1>\n<form action=\"/login\" method=\"post\">"
    b"<input name=\"answer\"><button>Continue</button></form>\n</body></html>\n"
)
# Bytes that are not UTF-8 (a lone continuation byte, a truncated sequence, 0xff), put into
# a page's text by the bad_utf8 fault.
BAD_UTF8 = b"\x80\xc3(\xff\xfe\xe2\x82"


def redirect(location: str) -> Reply:
    body = f'<html><body><a href="{location}">moved</a></body></html>\n'.encode()
    return Reply(302, body, "text/html", (("Location", location),))


def with_bad_utf8(body: bytes) -> bytes:
    """The page with invalid UTF-8 in its text: a book page's description, else the title."""
    for marker in (b'<div id="product_description"', b"<title>"):
        at = body.find(marker)
        if at >= 0:
            at = body.find(b"<p>", at) + 3 if marker.startswith(b"<div") else at + len(marker)
            return body[:at] + BAD_UTF8 + body[at:]
    return BAD_UTF8 + body


def error_page(status: int) -> Reply:
    reason = REASONS.get(status, "Error")
    body = (f"<!DOCTYPE html>\n<html><head><title>{status} {reason}</title></head>\n"
            f"<body><h1>{status} {reason}</h1></body></html>\n").encode()
    return Reply(status, body)


def retry_after_value(seconds: int, form: str) -> str:
    """Retry-After as delta-seconds or as an HTTP date (both legal; clients must handle both)."""
    if form == "date":
        return email.utils.formatdate(time.time() + seconds, usegmt=True)
    return str(seconds)


def too_many(seconds: int, form: str) -> Reply:
    page = error_page(429)
    return page._replace(headers=(("Retry-After", retry_after_value(seconds, form)),))


def banned(response: str) -> Reply:
    return Reply(200 if response == "200" else 403, BLOCKED_PAGE)
