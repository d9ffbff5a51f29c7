"""The end-of-crawl report: a Markdown page with PNG charts.

``python -m booksscraper.report OUTPUT_DIR`` reads the crawl's final stats
(``stats.json``, written at close by ``CrawlSummary``) and its resource time
series (``monitor.jsonl``, by ``ResourceMonitor``) from OUTPUT_DIR and writes
``OUTPUT_DIR/report.md`` with its charts in ``OUTPUT_DIR/report/``:
throughput over time, latency distribution, status codes, CPU/RSS/descriptors/
network over time, and proxy health (or a note that no proxies were used).
It opens with the monitors' results (``monitors/results``) and ends with the
data: books per category, prices, ratings and availability (from books.json),
and the top reasons of rejects and failures (``report/data.py``).
``REPORT_ON_CLOSE = True`` builds it at the end of every crawl.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from booksscraper.extensions.summary import summary_numbers
from booksscraper.incremental.changes import report_section
from booksscraper.monitoring.monitors import RESULTS
from booksscraper.output.jsonlines import read_json_lines
from booksscraper.report import charts, data

MIB = 2**20


def build_report(
    output_dir: Path | str,
    *,
    stats_file: str = "stats.json",
    monitor_file: str = "monitor.jsonl",
) -> Path:
    """Write ``report.md`` and its charts into ``output_dir``; returns the report's path."""
    output_dir = Path(output_dir)
    stats_path = output_dir / stats_file
    if not stats_path.exists():
        raise FileNotFoundError(f"{stats_path} not found: a crawl writes it when it ends")
    stats = json.loads(stats_path.read_text(encoding="utf-8"))
    samples = read_json_lines(output_dir / monitor_file)
    chart_dir = output_dir / "report"
    chart_dir.mkdir(parents=True, exist_ok=True)
    images = {
        "throughput": charts.throughput_chart(samples, chart_dir / "throughput.png"),
        "latency": charts.latency_chart(stats, chart_dir / "latency.png"),
        "status": charts.status_chart(stats, chart_dir / "status_codes.png"),
        "resources": charts.resources_chart(samples, chart_dir / "resources.png"),
        "proxies": charts.proxies_chart(samples, chart_dir / "proxies.png"),
    }
    books = data.book_figures(data.load_books(output_dir))
    rejects, failures = data.read_outcomes(output_dir)
    reasons = (data.reject_reasons(rejects), data.failure_reasons(failures))
    images |= {
        "categories": charts.categories_chart(books["categories"], chart_dir / "categories.png"),
        "prices": charts.prices_chart(books["prices"], chart_dir / "prices.png"),
        "ratings": charts.ratings_stock_chart(books["ratings"], books["availability"],
                                              books["in_stock"], books["books"],
                                              chart_dir / "ratings_availability.png"),
        "reasons": charts.reasons_chart(*reasons, chart_dir / "reasons.png"),
    }
    report = output_dir / "report.md"
    text = render_markdown(stats, samples, images, output_dir)
    text += "\n" + "\n".join(_data_section(books, reasons, images, output_dir))
    report.write_text(text, encoding="utf-8")
    return report


def render_markdown(
    stats: dict[str, Any],
    samples: list[dict[str, Any]],
    images: dict[str, Path | None],
    output_dir: Path,
) -> str:
    numbers = summary_numbers(stats)

    def image(key: str, title: str, missing: str) -> str:
        path = images.get(key)
        if path is None:
            return f"_{missing}_"
        return f"![{title}]({path.relative_to(output_dir).as_posix()})"

    lines = [
        "# Crawl report",
        "",
        f"Ended {_when(stats.get('finish_time'))} (started {_when(stats.get('start_time'))}), "
        f"close reason **{numbers['reason']}**.",
        "",
        "| | |",
        "| --- | --- |",
        *(f"| {name} | {value} |" for name, value in _headline(stats, samples, numbers)),
        "",
    ]
    lines += _monitors_section(stats)
    warnings = _warnings(stats)
    if warnings:
        lines += ["## Warnings", "", *(f"- {w}" for w in warnings), ""]
    lines += report_section(stats)  # what changed since the last run (incremental crawls)
    no_samples = (
        "No resource samples (monitor.jsonl missing or empty: RESOURCE_MONITOR_ENABLED off?)."
    )
    lines += [
        "## Throughput",
        "",
        image("throughput", "Throughput over time", no_samples),
        "",
        "## Latency",
        "",
        image("latency", "Latency distribution", "No download latency recorded."),
        "",
        "## Status codes",
        "",
        image("status", "Status codes", "No responses or download errors recorded."),
        "",
        "## Resources",
        "",
        image("resources", "CPU, RSS, descriptors and network over time", no_samples),
        "",
        "Network: Linux has no per-process network counters, so *received, whole machine* "
        "is system-wide (psutil.net_io_counters); *crawl responses* is the crawl's own "
        "traffic (downloader/response_bytes).",
        "",
        "## Proxies",
        "",
        image("proxies", "Proxy health", "No proxies were used in this crawl."),
        "",
        *_proxy_table(stats),
    ]
    return "\n".join(lines)


def _when(value: Any) -> str:
    """A stats time as ``2026-12-06 16:21:27 UTC`` (as given when it is not one)."""
    try:
        moment = datetime.fromisoformat(str(value)).astimezone(UTC)
    except ValueError:
        return str(value or "?")
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _monitors_section(stats: dict[str, Any]) -> list[str]:
    """The monitors' verdicts (``booksscraper/monitoring/monitors.py``): failed first."""
    results = stats.get(RESULTS)
    if not results:
        return ["## Monitors", "", "_No monitor results (MONITORS_ENABLED off?)._", ""]
    order = {False: 0, None: 2, True: 1}
    failed = [r for r in results if r.get("passed") is False]
    skipped = sum(1 for r in results if r.get("passed") is None)
    verdict = (f"**{len(failed)} failed**: {', '.join(r['name'] for r in failed)}"
               if failed else "all passed")
    verdict += f" ({skipped} skipped)" if skipped else ""
    rows = [
        f"| {r['name']} | {_VERDICT[r.get('passed')]} | {r.get('message', '')} |"
        for r in sorted(results, key=lambda r: order[r.get("passed")])
    ]
    return ["## Monitors", "", f"{len(results)} checks, {verdict}.", "",
            "| monitor | result | detail |", "| --- | --- | --- |", *rows, ""]


_VERDICT = {True: "passed", False: "**FAILED**", None: "skipped"}


def _data_section(books: dict[str, Any], reasons: tuple[list[tuple[str, int]], ...],
                  images: dict[str, Path | None], output_dir: Path) -> list[str]:
    def image(key: str, title: str) -> list[str]:
        path = images.get(key)
        return [f"![{title}]({path.relative_to(output_dir).as_posix()})", ""] if path else []

    lines = ["## The data", ""]
    if not books["books"]:
        lines += ["_No book exported._", ""]
    else:
        price = books["price_summary"]
        ratings = ", ".join(f"{stars}★ {count}" for stars, count in books["ratings"])
        lines += [
            f"{books['books']} books in {len(books['categories'])} categories; "
            f"{books['in_stock']} in stock. Ratings: {ratings}.",
            "",
        ]
        if price:
            lines += [f"Price (GBP): min {price['min']:.2f}, median {price['median']:.2f}, "
                      f"mean {price['mean']:.2f}, max {price['max']:.2f}.", ""]
        lines += [*image("categories", "Books per category"),
                  *image("prices", "Price distribution"),
                  *image("ratings", "Ratings and availability")]
    rejects, failures = reasons
    lines += ["### Top reasons of rejects and failures", ""]
    if not rejects and not failures:
        return [*lines, "_No reject and no failure._", ""]
    lines += image("reasons", "Top reasons of rejects and failures")
    lines += ["| file | reason | count |", "| --- | --- | --- |"]
    lines += [f"| rejects | {reason} | {count} |" for reason, count in rejects]
    lines += [f"| failures | {reason} | {count} |" for reason, count in failures]
    return [*lines, ""]


def _proxy_table(stats: dict[str, Any]) -> list[str]:
    """Each proxy's state at close (``proxies/state/<proxy>``, credentials never included)."""
    states = sorted(
        (key.removeprefix("proxies/state/"), value)
        for key, value in stats.items()
        if key.startswith("proxies/state/")
    )
    if not states:
        return []
    rows = [f"| {proxy} | {state} |" for proxy, state in states]
    return ["| Proxy | State at close |", "| --- | --- |", *rows, ""]


def _headline(
    stats: dict[str, Any], samples: list[dict[str, Any]], numbers: dict[str, Any]
) -> list[tuple[str, Any]]:
    seconds = numbers["seconds"]
    rss = numbers["rss_peak_bytes"]
    pages = numbers["pages"]
    latency = " / ".join(
        f"{stats[key]:.0f}"
        for key in ("latency/p50_ms", "latency/p90_ms", "latency/p99_ms")
        if key in stats
    )
    rows: list[tuple[str, Any]] = [
        ("Duration", f"{seconds:.1f} s" if seconds is not None else "?"),
        ("Pages (responses)", pages),
        ("Pages/s", f"{pages / seconds:.1f}" if seconds else "?"),
        # The ledger (booksscraper.ledger.figures): the summary line's and the monitors' figures.
        ("Books announced", numbers["announced"] if numbers["announced"] is not None else "?"),
        ("Books exported", numbers["exported"]),
        ("Books rejected", numbers["rejected"]),
        ("Books failed", numbers["failed_books"]),
        ("Duplicates", numbers["duplicates"]),
        ("Not attempted", numbers["not_attempted"]),
        ("Unaccounted", numbers["unaccounted"]),
        ("Requests given up", numbers["failed"]),
        ("Bad copies fetched again", numbers["refetched"]),
        ("Retries", numbers["retries"]),
        ("Bans", numbers["bans"]),
        ("Errors logged", stats.get("log_count/ERROR", 0)),
        ("Latency p50 / p90 / p99 (ms)", latency or "?"),
        ("Peak RSS", f"{rss / MIB:.0f} MiB" if rss else "?"),
        ("CPU average / peak (% of one core)", _pair(stats, "monitor/cpu_percent")),
        (
            "Open descriptors peak / limit",
            f"{stats.get('monitor/fds_peak', '?')} / {stats.get('monitor/fds_limit', '?')}",
        ),
        ("Downloaded", f"{stats.get('downloader/response_bytes', 0) / MIB:.1f} MiB"),
        ("Resource samples", len(samples)),
    ]
    return rows


def _pair(stats: dict[str, Any], prefix: str) -> str:
    avg, peak = stats.get(f"{prefix}_avg"), stats.get(f"{prefix}_peak")
    return f"{avg} / {peak}" if avg is not None else "?"


def _warnings(stats: dict[str, Any]) -> list[str]:
    found = [
        f"resource threshold crossed: {key.removeprefix('monitor/warning/')} "
        f"({value} time{'s' if value != 1 else ''}; see the log)"
        for key, value in sorted(stats.items())
        if key.startswith("monitor/warning/")
    ]
    if stats.get("monitor/memory_cap_reached"):
        found.append("the memory cap (MONITOR_MEMORY_CAP_MB) was reached: the spider was closed")
    return found
