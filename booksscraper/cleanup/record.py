"""Cleanup of one book record, and of a batch of them (the unit a pool worker runs).

Pure functions of plain dicts, so they run the same inline, in a worker
process or in a test. ``clean_record`` returns only the fields it sets (small
to send back from a worker); an error on one record never stops its batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from booksscraper.cleanup.derived import reading_time_seconds, word_count
from booksscraper.cleanup.description import repair_description
from booksscraper.cleanup.money import currency_code, normalize_amount, parse_price
from booksscraper.cleanup.signature import extra_work, minhash
from booksscraper.cleanup.text import clean_optional_text

MONEY_FIELDS = ("price", "price_excl_tax", "price_incl_tax", "tax")
TEXT_FIELDS = ("title", "category")
# The item fields cleanup reads: only these are sent to a worker.
INPUT_FIELDS = ("currency", "description", "description_raw", *MONEY_FIELDS, *TEXT_FIELDS)
SIGNATURE = "_signature"  # key of the MinHash signature in the returned fields


@dataclass(frozen=True)
class CleanupOptions:
    extra_work: int = 0  # rounds of deliberate CPU work per record (benchmarks)
    signatures: bool = True  # compute MinHash signatures for near-duplicate flagging


def clean_record(record: dict[str, Any], options: CleanupOptions) -> dict[str, Any]:
    """The cleaned fields of ``record``; raises on a value that cannot be cleaned."""
    out: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        if record.get(name) is not None:
            out[name] = clean_optional_text(record[name])
    # A record cleaned before keeps its as-shown text in description_raw.
    shown = record.get("description_raw") or record.get("description")
    description = repair_description(shown)
    out["description_raw"] = shown
    out["description"] = description

    currency = record.get("currency")
    for name in MONEY_FIELDS:
        value = record.get(name)
        if isinstance(value, str):
            value, parsed_currency = parse_price(value)
            currency = currency or parsed_currency
        if value is not None:
            out[name] = normalize_amount(value)
    if currency is not None:
        out["currency"] = currency_code(currency)

    words = word_count(description)
    out["word_count"] = words
    out["reading_time_s"] = reading_time_seconds(words)
    if options.signatures:
        out[SIGNATURE] = minhash(description)
    if options.extra_work:
        extra_work(description, options.extra_work)
    return out


def clean_batch(
    records: list[dict[str, Any]], options: CleanupOptions
) -> list[tuple[bool, Any]]:
    """``(True, fields)`` or ``(False, "ExcType: message")`` for each record, in order."""
    results: list[tuple[bool, Any]] = []
    for record in records:
        try:
            results.append((True, clean_record(record, options)))
        except Exception as exc:  # one bad record must not fail its batch
            results.append((False, f"{type(exc).__name__}: {exc}"))
    return results
