"""What changed: this run's books against the previous run's, the summary line, the report.

Every book against the state, by UPC, all fields but ``IGNORED_FIELDS``: ``{"upc", "url",
"change": "new" | "removed" | "changed", "fields": {name: [old, new]}}``. A previous book
missing from this run is "removed" only if the crawl finished, no listing page was lost
and its URL was on no listing page; if its page failed or was rejected it is not checked
(``changes/not_checked``) and stays in the state with its last values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from booksscraper.dedup.keyset import KeySet
from booksscraper.extraction.validation import upc_key
from booksscraper.output.jsonlines import dumps, iter_json_lines, replace_atomically

# Not compared: when the book was scraped, and which earlier book it resembles (crawl order).
IGNORED_FIELDS = ("scraped_at", "near_duplicate_of")
SUMMARY_STAT = "changes/summary"


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    """``{name: [old, new]}`` for every field that differs, ``IGNORED_FIELDS`` aside."""
    names = [k for k in old if k not in new] + list(new)
    return {k: [old.get(k), new.get(k)] for k in names
            if k not in IGNORED_FIELDS and old.get(k) != new.get(k)}


def format_changes(counts: dict[str, int], fields: Counter[str]) -> str:
    """``12 new, 3 removed, 41 changed: price 30, availability 14``, and what was not checked."""
    line = f"{counts['new']} new, {counts['removed']} removed, {counts['changed']} changed"
    if fields:
        line += ": " + ", ".join(f"{name} {n}" for name, n in fields.most_common())
    if counts.get("not_checked"):
        line += (f"; {counts['not_checked']} not checked (their pages failed or were "
                 "rejected: see failures.jsonl, rejects.jsonl)")
    if counts.get("unconfirmed"):
        line += (f"; {counts['unconfirmed']} not seen but not counted removed (the crawl did "
                 "not finish, or a listing page was lost)")
    return line


def report_section(stats: dict[str, Any]) -> list[str]:
    """The report's section on what changed since the last run (empty when not compared)."""
    summary = stats.get(SUMMARY_STAT)
    if summary is None:
        return []
    rows = sorted((key.removeprefix("changes/field/"), value) for key, value in stats.items()
                  if key.startswith("changes/field/"))
    lines = ["## Changes since the last run", "", summary, ""]
    if rows:
        lines += ["| Field | Books |", "| --- | --- |", *(f"| {k} | {v} |" for k, v in rows), ""]
    lines += ["One line per book in `changes.jsonl`.", ""]
    return lines


def unseen_verdict(failed: set[Any], listed: Any, sure: bool) -> Callable[[str | None], str]:
    """What a previous book missing from the output is: removed, not checked, unconfirmed.

    ``failed``: URLs of failed or rejected pages; ``listed``: book URLs on listing pages
    (``in``); ``sure``: the crawl finished and lost no listing page.
    """

    def verdict(url: str | None) -> str:
        if url in failed:
            return "not_checked"
        if not sure or url in listed:
            return "unconfirmed"
        return "removed"

    return verdict


def failed_urls(folders: Iterable[tuple[Path, Path]]) -> set[Any]:
    """URLs in (failures file, rejects file) pairs: pages that gave no book this run."""
    failed: set[Any] = set()
    for failures, rejects in folders:
        failed |= {r.get("url") for r in iter_json_lines(failures)}
        failed |= {r.get("url") for r in iter_json_lines(rejects)}
    return failed


@dataclass
class Comparison:
    records: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter[str] = field(
        default_factory=lambda: Counter({"new": 0, "removed": 0, "changed": 0}))
    fields: Counter[str] = field(default_factory=Counter)
    carried: list[dict[str, Any]] = field(default_factory=list)  # last known values kept
    previous: int = 0

    @property
    def summary(self) -> str:
        return format_changes(self.counts, self.fields)

    def stats(self) -> dict[str, Any]:
        """The ``changes/...`` stats of this comparison."""
        values: dict[str, Any] = {"changes/previous_books": self.previous}
        values.update({f"changes/{key}": value for key, value in self.counts.items()})
        values.update({f"changes/field/{name}": n for name, n in self.fields.items()})
        values[SUMMARY_STAT] = self.summary
        return values

    def write(self, path: Path) -> None:
        replace_atomically(path, lambda f: f.writelines(dumps(r) + "\n" for r in self.records))


def compare(old_books: Iterable[dict[str, Any]], new_books: Iterable[dict[str, Any]],
            unseen: Callable[[str | None], str]) -> Comparison:
    """This run's books (each UPC's first copy) against the previous ones."""
    old = {r.get("upc"): r for r in old_books}
    result = Comparison(previous=len(old))
    seen = KeySet()
    for new in new_books:
        if not seen.add(upc_key(new.get("upc"))):
            continue  # a second copy export dropped
        before = old.pop(new.get("upc"), None)
        if before is None:
            result.counts["new"] += 1
            result.records.append(_record(new, "new", {}))
            continue
        diff = changed_fields(before, new)
        if diff:
            result.counts["changed"] += 1
            result.fields.update(list(diff))
            result.records.append(_record(new, "changed", diff))
    for before in old.values():
        verdict = unseen(before.get("url"))
        if verdict == "removed":
            result.counts["removed"] += 1
            result.records.append(_record(before, "removed", {}))
        else:
            result.counts[verdict] += 1
            result.carried.append(before)
    return result


def _record(book: dict[str, Any], change: str, fields: dict[str, list[Any]]) -> dict[str, Any]:
    return {"upc": book.get("upc"), "url": book.get("url"), "change": change, "fields": fields}
