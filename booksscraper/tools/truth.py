"""Compare a crawl's output with the sandbox's ground truth, field by field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from booksscraper.items import TRUTH_FIELDS


def _normal(value: Any) -> Any:
    # Exporters write Decimal as a string; the truth holds strings already.
    return value if value is None or isinstance(value, bool | int | str) else str(value)


def differences(
    books: Iterable[Mapping[str, Any]], truth: Iterable[Mapping[str, Any]], limit: int = 20
) -> list[str]:
    """Readable differences: missing, unexpected and duplicate books, wrong fields.

    ``description`` is compared with the truth's clean ``description`` when the
    crawl cleaned it (its items carry ``description_raw``), else with the text
    as the page shows it.
    """
    expected = {t["book_id"]: t for t in truth}
    problems: list[str] = []
    seen: set[Any] = set()
    for book in books:
        book_id = book.get("book_id")
        if book_id in seen:
            problems.append(f"book {book_id}: exported more than once")
            continue
        seen.add(book_id)
        want = expected.get(book_id)
        if want is None:
            problems.append(f"book {book_id}: not in the catalogue ({book.get('url')})")
            continue
        cleaned = "description_raw" in book and book["description_raw"] is not None
        for field in TRUTH_FIELDS:
            truth_field = field if field != "description" or cleaned else "description_raw"
            got, wanted = _normal(book.get(field)), _normal(want.get(truth_field))
            if got != wanted:
                problems.append(f"book {book_id}: {field} is {got!r:.80}, expected {wanted!r:.80}")
    missing = sorted(set(expected) - seen)
    if missing:
        problems.append(f"{len(missing)} books missing, e.g. {missing[:10]}")
    if len(problems) > limit:
        problems = [*problems[:limit], f"... {len(problems) - limit} more"]
    return problems
