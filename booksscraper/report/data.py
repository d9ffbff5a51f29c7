"""The data of a crawl in figures: books per category, prices, ratings, availability,
and the top reasons of rejects and failures (pure; the report draws them).

Read from OUTPUT_DIR: books.json (every exported book once), rejects.jsonl (the
items not exported: a malformed copy fetched again counts under its stage,
``malformed_page``, apart from the final ``validation``/``cleanup`` rejects) and
failures.jsonl (requests given up).
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from booksscraper.config.declared import default
from booksscraper.output.jsonlines import read_json_lines

TOP_REASONS = 10


def load_books(output_dir: Path) -> list[dict[str, Any]]:
    """books.json, or the JSON lines file when the array was never written (a crash)."""
    array = output_dir / default("OUTPUT_JSON")
    if array.exists():
        try:
            return json.loads(array.read_text(encoding="utf-8"))
        except ValueError:
            pass
    return read_json_lines(output_dir / default("OUTPUT_JSONL"))


def prices(books: list[dict[str, Any]]) -> list[float]:
    found = []
    for book in books:
        try:
            found.append(float(Decimal(str(book.get("price")))))
        except (InvalidOperation, ValueError):
            continue
    return found


def book_figures(books: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts by category, rating and stock, and the price summary."""
    price_list = prices(books)
    return {
        "books": len(books),
        "categories": Counter(str(b.get("category") or "?") for b in books).most_common(),
        "ratings": sorted(Counter(b.get("rating") for b in books
                                  if isinstance(b.get("rating"), int)).items()),
        "in_stock": sum(1 for b in books if b.get("in_stock")),
        "availability": [b["availability"] for b in books
                         if isinstance(b.get("availability"), int)],
        "prices": price_list,
        "price_summary": {
            "min": min(price_list), "median": statistics.median(price_list),
            "max": max(price_list), "mean": statistics.fmean(price_list),
        } if price_list else None,
    }


def reject_reasons(rejects: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """(``stage: first reason code``, records), most common first: each record once."""
    counts: Counter[str] = Counter()
    for record in rejects:
        reason = str((record.get("reasons") or ["?"])[0]).split(":", 1)[0]
        counts[f"{record.get('stage', '?')}: {reason}"] += 1
    return counts.most_common(TOP_REASONS)


def failure_reasons(failures: list[dict[str, Any]]) -> list[tuple[str, int]]:
    counts = Counter(str(record.get("reason") or "?") for record in failures)
    return counts.most_common(TOP_REASONS)


def read_outcomes(output_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rejects, failures) of the crawl in ``output_dir``."""
    return (read_json_lines(output_dir / default("REJECTS_FILE")),
            read_json_lines(output_dir / default("FAILURES_FILE")))
