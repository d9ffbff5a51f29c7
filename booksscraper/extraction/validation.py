"""What makes a book item valid: required fields, types, ranges, same-site URLs.

``item_problems`` is a pure function returning reason codes (``price_missing``,
``rating_out_of_range: 7``...), used by the validation pipeline and by the
spider to decide whether a malformed page is worth fetching again. The code
before the colon is the stats key suffix; the rest is detail for the reader.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from booksscraper.dedup.keyset import key64

REQUIRED: dict[str, type | tuple[type, ...]] = {
    "url": str,
    "book_id": int,
    "upc": str,
    "title": str,
    "price": Decimal,
    "currency": str,
    "price_excl_tax": Decimal,
    "price_incl_tax": Decimal,
    "tax": Decimal,
    "availability": int,
    "in_stock": bool,
    "rating": int,
    "category": str,
    "image_url": str,
    "review_count": int,
    "scraped_at": str,
}
OPTIONAL: dict[str, type | tuple[type, ...]] = {"description": str}
FIELDS = REQUIRED | OPTIONAL

UPC = re.compile(r"[0-9a-f]{16}")
REPLACEMENT_CHARACTER = "\ufffd"
_CURRENCY = re.compile(r"[A-Z]{3}")


def _type_ok(value: Any, expected: type | tuple[type, ...]) -> bool:
    # bool is an int subclass: True is not a rating.
    if expected is int and isinstance(value, bool):
        return False
    return isinstance(value, expected)


def _url_problem(name: str, value: str, site_host: str | None) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{name}_not_absolute: {value[:200]}"
    if site_host and parts.hostname != site_host:
        return f"{name}_offsite: {parts.hostname}"
    return None


def problem_field(problem: str) -> str | None:
    """The field a reason code is about (``price_excl_tax_missing`` -> ``price_excl_tax``)."""
    code = problem.split(":", 1)[0]
    fields = [name for name in FIELDS if code.startswith(name + "_")]
    return max(fields, key=len) if fields else None


def item_problems(item: Mapping[str, Any], site_host: str | None = None) -> list[str]:
    """Every reason ``item`` must not be exported; empty when it is valid."""
    problems = []
    for name, expected in FIELDS.items():
        value = item.get(name)
        if value is None or value == "":
            if name in REQUIRED:
                problems.append(f"{name}_missing")
        elif not _type_ok(value, expected):
            problems.append(f"{name}_bad_type: {type(value).__name__}")
    if problems:
        return problems

    for name, value in item.items():
        # U+FFFD is what decoding leaves of bytes that are not text: the page was damaged.
        if isinstance(value, str) and REPLACEMENT_CHARACTER in value:
            problems.append(f"{name}_invalid_text")
    for name in ("price", "price_excl_tax", "price_incl_tax"):
        if not item[name] > 0:
            problems.append(f"{name}_not_positive: {item[name]}")
    if item["tax"] < 0:
        problems.append(f"tax_negative: {item['tax']}")
    if not 1 <= item["rating"] <= 5:
        problems.append(f"rating_out_of_range: {item['rating']}")
    for name in ("availability", "review_count"):
        if item[name] < 0:
            problems.append(f"{name}_negative: {item[name]}")
    if item["book_id"] < 1:
        problems.append(f"book_id_out_of_range: {item['book_id']}")
    if item["availability"] >= 0 and item["in_stock"] != (item["availability"] > 0):
        problems.append("in_stock_contradicts_availability")
    if not UPC.fullmatch(item["upc"]):
        problems.append(f"upc_malformed: {item['upc'][:40]}")
    if not _CURRENCY.fullmatch(item["currency"]):
        problems.append(f"currency_malformed: {item['currency'][:10]}")
    for name in ("url", "image_url"):
        problem = _url_problem(name, item[name], site_host)
        if problem:
            problems.append(problem)
    return problems


def upc_key(upc: object) -> int:
    """The 64-bit key of a UPC (export and resume keep UPCs as keys, not strings).

    A valid UPC (16 hex digits) is its own value; anything else (None, upper
    case, another format) a hash of its repr, so that values a set of strings
    would tell apart stay apart ("ABC" and "abc", None and "None").
    """
    if isinstance(upc, str) and UPC.fullmatch(upc):
        return int(upc, 16)
    return key64(repr(upc))
