"""Monitors: does a crawl's outcome look right? Pure rules over its stats.

Each close monitor turns the final stats into a ``Check`` (passed, its figure,
its threshold, one line for a human); ``extensions/crawlmonitors.py`` runs them
at the end of every crawl and the periodic ones while it runs, and the crawl
command exits 3 when one failed. Own code, not Spidermon: see
docs/monitoring.md#monitors-and-alerts for the reasons.

Close monitors:

- ``items``: books exported (the ledger's ``exported`` and, resuming a JOBDIR crawl,
  ``exported_before``) against what the site announces (``ledger/announced``: the
  start page's "N results", 1 for a book page). Any book **unaccounted** (announced
  and never listed, e.g. a listing page short of its range, or listed and never
  settled) fails it whatever the ratio: the ratio is for named losses. Skipped when nothing was
  announced or the user stopped the crawl (Ctrl-C, cancel); with a
  ``CLOSESPIDER_ITEMCOUNT`` limit the target is the limit, with a
  ``CLOSESPIDER_PAGECOUNT`` limit it is skipped: a limit the user set is a success.
  A cluster worker (``REDIS_URL``) skips it too: it exports its share, and
  ``make cluster`` checks the merged whole against the ground truth. A start page
  that is page k of a listing announces the books from page k on.
- ``fields``: per field of the item, the share of the items that reached
  validation (exported or rejected there) in which it is present and valid.
- ``rejects_failures``: books rejected (distinct books given up; a bad copy fetched
  again is not one) plus requests given up (the failures file) as a share of the
  catalogue (announced, else seen); all from the ledger.
  Skipped when the user stopped the crawl: the downloads the stop aborted are
  failures of the stop, not of the site.
- ``errors``: ERROR log lines other than the failures' own.
- ``finish_reason``: one of ``MONITOR_FINISH_REASONS``.
- ``duration``: seconds against ``MONITOR_MAX_SECONDS``, when set.

Settings (defaults in docs/settings.md):

- ``MONITORS_ENABLED``: run the monitors (close and periodic).
- ``MONITOR_ITEMS_MIN_RATIO``: exported / announced at least this.
- ``MONITOR_FIELD_COVERAGE``: each field present and valid in at least this share of
  the items.
- ``MONITOR_FIELD_COVERAGE_BY_FIELD``: per-field thresholds over ``MONITOR_FIELD_COVERAGE``;
  a project's dict is merged over the declared one (a few real books have no description).
- ``MONITOR_MAX_REJECTS_FAILURES_RATIO``: rejects + failures over the catalogue.
- ``MONITOR_MAX_ERRORS``: ERROR log lines beyond one per failure.
- ``MONITOR_FINISH_REASONS``: close reasons that pass; a ``closespider_timeout`` or
  ``closespider_errorcount`` is a safety net that fired: it fails.
- ``MONITOR_MAX_SECONDS``: the crawl's duration budget; 0 = off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from scrapy.settings import BaseSettings

from booksscraper.cluster.mode import is_cluster
from booksscraper.config.declared import default
from booksscraper.config.errors import BadConfig
from booksscraper.config.readers import number, text_list, whole_number
from booksscraper.extraction.validation import FIELDS
from booksscraper.ledger.figures import figures

# Stats this module owns (the validation pipeline writes the first two).
VALIDATED = "validation/checked"
FIELD_INVALID = "validation/field_invalid/"  # + field name
RESULTS = "monitors/results"  # every check, as dicts
FAILED = "monitors/failed"  # names of the failed checks (absent: none failed)

USER_STOPS = ("shutdown", "cancelled")


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool | None  # None: skipped (nothing to judge)
    figure: Any
    threshold: Any
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Thresholds:
    # The declared defaults (tests build thresholds without settings).
    items_min_ratio: float = default("MONITOR_ITEMS_MIN_RATIO")
    field_coverage: float = default("MONITOR_FIELD_COVERAGE")
    field_coverage_by_field: Mapping[str, float] | None = None
    max_rejects_failures_ratio: float = default("MONITOR_MAX_REJECTS_FAILURES_RATIO")
    max_errors: int = default("MONITOR_MAX_ERRORS")
    finish_reasons: tuple[str, ...] = tuple(default("MONITOR_FINISH_REASONS").split(","))
    max_seconds: float = default("MONITOR_MAX_SECONDS")
    item_limit: int = 0  # CLOSESPIDER_ITEMCOUNT
    page_limit: int = 0  # CLOSESPIDER_PAGECOUNT
    cluster_worker: bool = False  # REDIS_URL: one worker of several

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Thresholds:
        by_field = dict(default("MONITOR_FIELD_COVERAGE_BY_FIELD"))
        by_field.update(settings.getdict("MONITOR_FIELD_COVERAGE_BY_FIELD"))
        unknown = sorted(set(by_field) - set(FIELDS))
        if unknown:
            raise BadConfig(f"MONITOR_FIELD_COVERAGE_BY_FIELD: unknown field {unknown[0]!r} "
                            f"(fields: {', '.join(FIELDS)})")
        return cls(
            items_min_ratio=share(settings, "MONITOR_ITEMS_MIN_RATIO"),
            field_coverage=share(settings, "MONITOR_FIELD_COVERAGE"),
            field_coverage_by_field={k: _ratio_value("MONITOR_FIELD_COVERAGE_BY_FIELD", v)
                                     for k, v in by_field.items()},
            max_rejects_failures_ratio=share(settings, "MONITOR_MAX_REJECTS_FAILURES_RATIO"),
            max_errors=whole_number(settings, "MONITOR_MAX_ERRORS"),
            finish_reasons=tuple(text_list(settings, "MONITOR_FINISH_REASONS")),
            max_seconds=number(settings, "MONITOR_MAX_SECONDS"),
            item_limit=settings.getint("CLOSESPIDER_ITEMCOUNT"),
            page_limit=settings.getint("CLOSESPIDER_PAGECOUNT"),
            cluster_worker=is_cluster(settings),
        )


def close_checks(stats: Mapping[str, Any], limits: Thresholds) -> list[Check]:
    """Every close monitor's verdict on a crawl's final stats."""
    return [
        items_check(stats, limits),
        *field_checks(stats, limits),
        rejects_failures_check(stats, limits),
        errors_check(stats, limits),
        finish_reason_check(stats, limits),
        duration_check(stats, limits),
    ]


def exported(stats: Mapping[str, Any]) -> int:
    """Books in the output: exported by this run and (JOBDIR) by the runs before it."""
    numbers = figures(stats)
    return numbers["exported"] + numbers["exported_before"]


def items_check(stats: Mapping[str, Any], limits: Thresholds) -> Check:
    numbers = figures(stats)
    announced = numbers["announced"]
    books = exported(stats)
    reason = stats.get("finish_reason")
    if not announced:
        return Check("items", None, books, None, "the site announced no result count")
    if reason in USER_STOPS:
        return Check("items", None, books, None, f"stopped by the user ({reason})")
    if limits.page_limit:
        return Check("items", None, books, None, "CLOSESPIDER_PAGECOUNT set")
    if limits.cluster_worker:
        return Check("items", None, books, None, "a cluster worker exports its share")
    if numbers["unaccounted"]:
        short = "; ".join(f"{page['url']} shows {page['found']} of {page['expected']}"
                          for page in numbers["short_listings"])
        return Check("items", False, books, 0,
                     f"{numbers['unaccounted']} of {announced} announced books unaccounted "
                     f"(never listed or settled){': ' + short if short else ''}")
    target = min(announced, limits.item_limit) if limits.item_limit else announced
    ratio = books / target
    passed = ratio >= limits.items_min_ratio
    return Check("items", passed, books, limits.items_min_ratio,
                 f"{books} of {target} books exported ({_pct(ratio)}, "
                 f"minimum {_pct(limits.items_min_ratio)})")


def field_checks(stats: Mapping[str, Any], limits: Thresholds) -> list[Check]:
    checked = int(stats.get(VALIDATED, 0))
    if not checked:
        return [Check("fields", None, 0, limits.field_coverage, "no item reached validation")]
    by_field = limits.field_coverage_by_field or {}
    checks = []
    for field in FIELDS:
        threshold = by_field.get(field, limits.field_coverage)
        bad = int(stats.get(FIELD_INVALID + field, 0))
        coverage = (checked - bad) / checked
        checks.append(Check(
            f"field:{field}", coverage >= threshold, round(coverage, 6), threshold,
            f"{field} present and valid in {checked - bad} of {checked} items "
            f"({_pct(coverage)}, minimum {_pct(threshold)})",
        ))
    return checks


def rejects_failures_check(stats: Mapping[str, Any], limits: Thresholds) -> Check:
    numbers = figures(stats)
    lost = numbers["rejected"] + numbers["failed"]
    reason = stats.get("finish_reason")
    if reason in USER_STOPS:
        return Check("rejects_failures", None, lost, limits.max_rejects_failures_ratio,
                     f"stopped by the user ({reason})")
    catalogue = int(numbers["announced"] or 0) or exported(stats) + lost
    ratio = lost / catalogue if catalogue else 0.0
    return Check("rejects_failures", ratio <= limits.max_rejects_failures_ratio, lost,
                 limits.max_rejects_failures_ratio,
                 f"{numbers['rejected']} books rejected and {numbers['failed']} requests "
                 f"failed in a "
                 f"catalogue of {catalogue} ({_pct(ratio)}, maximum "
                 f"{_pct(limits.max_rejects_failures_ratio)})")


def errors_check(stats: Mapping[str, Any], limits: Thresholds) -> Check:
    lines = int(stats.get("log_count/ERROR", 0))
    extra = max(0, lines - figures(stats)["failed"])
    return Check("errors", extra <= limits.max_errors, extra, limits.max_errors,
                 f"{extra} ERROR log lines beyond the failures' own ({lines} in all; "
                 f"maximum {limits.max_errors})")


def finish_reason_check(stats: Mapping[str, Any], limits: Thresholds) -> Check:
    reason = stats.get("finish_reason") or "shutdown"
    return Check("finish_reason", reason in limits.finish_reasons, reason,
                 list(limits.finish_reasons), f"finish reason {reason}")


def duration_check(stats: Mapping[str, Any], limits: Thresholds) -> Check:
    seconds = stats.get("elapsed_time_seconds")
    if not limits.max_seconds or seconds is None:
        return Check("duration", None, seconds, limits.max_seconds or None, "no budget set")
    return Check("duration", seconds <= limits.max_seconds, round(seconds, 1), limits.max_seconds,
                 f"{seconds:.1f} s (budget {limits.max_seconds:g} s)")


def failed(checks: list[Check]) -> list[Check]:
    return [check for check in checks if check.passed is False]


def describe_failures(names_and_messages: list[dict[str, Any]]) -> str:
    """One line naming every failed monitor: what the crawl command prints."""
    return "; ".join(f"{c['name']}: {c['message']}" for c in names_and_messages)


def _pct(ratio: float) -> str:
    return f"{100 * ratio:.1f}%" if ratio >= 0.1 or ratio == 0 else f"{100 * ratio:.2f}%"


def _ratio_value(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadConfig(f"{name}: not a number: {value!r}") from None
    if not 0 <= number <= 1:
        raise BadConfig(f"{name}: {value!r} is not a share between 0 and 1")
    return number


def share(settings: BaseSettings, name: str) -> float:
    """Declared setting ``name``, a share between 0 and 1."""
    return number(settings, name, maximum=1.0)
