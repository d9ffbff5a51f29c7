"""PNG charts of one crawl, drawn with matplotlib's Agg backend (no display needed).

Each function takes the monitor samples and/or the final stats, writes one PNG
and returns its path, or returns None when there is nothing to draw (then the
report says why instead of showing an empty chart).
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from booksscraper.extensions.latency import BUCKETS_MS

MIB = 2**20
RATE_WINDOW_S = 5.0  # seconds over which throughput is averaged: 1 s samples are jumpy


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)  # Agg explicitly: never a GUI backend, even with DISPLAY set
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def _legend_beside(ax: Any) -> None:
    """The legend right of the axes: never over the lines, whatever their level."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def windowed_rates(samples: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """Per-second rate of counter ``key`` at each sample, over the last RATE_WINDOW_S."""
    times, rates = [], []
    start = 0
    for i, sample in enumerate(samples):
        while samples[start]["t"] < sample["t"] - RATE_WINDOW_S and start < i - 1:
            start += 1
        if i == 0:
            continue
        span = sample["t"] - samples[start]["t"]
        if span > 0:
            times.append(sample["t"])
            rates.append((sample.get(key, 0) - samples[start].get(key, 0)) / span)
    return times, rates


def throughput_chart(samples: list[dict[str, Any]], path: Path) -> Path | None:
    if len(samples) < 2:
        return None
    fig = Figure(figsize=(9, 6))
    rates, totals = fig.subplots(2, 1, sharex=True)
    for key, label in (("pages", "pages/s"), ("items", "items/s")):
        times, values = windowed_rates(samples, key)
        rates.plot(times, values, label=label)
    rates.set_ylabel(f"per second ({RATE_WINDOW_S:.0f} s window)")
    rates.set_ylim(bottom=0)  # from 0: a dip from 130 to 126 is not a collapse
    rates.set_title("Throughput")
    _legend_beside(rates)
    rates.grid(alpha=0.3)
    t = [s["t"] for s in samples]
    for key in ("pages", "discovered", "items", "errors", "retries"):
        totals.plot(t, [s.get(key) or 0 for s in samples], label=key)
    totals.set_ylabel("count so far")
    totals.set_xlabel("seconds since the spider opened")
    _legend_beside(totals)
    totals.grid(alpha=0.3)
    return _save(fig, path)


def latency_histogram(stats: dict[str, Any]) -> list[tuple[str, int]]:
    """(label, responses) per latency bucket, from ``latency/histogram_ms/*`` stats."""
    bounds = [*BUCKETS_MS, "inf"]
    rows, previous = [], 0
    for bound in bounds:
        count = stats.get(f"latency/histogram_ms/{bound if bound == 'inf' else f'{bound:g}'}", 0)
        label = f"> {previous:g}" if bound == "inf" else f"{previous:g}–{bound:g}"
        rows.append((label, count))
        previous = bound
    # Trim empty buckets at both ends so the bars are readable.
    counts = [c for _, c in rows]
    if not any(counts):
        return []
    first = next(i for i, c in enumerate(counts) if c)
    last = len(counts) - next(i for i, c in enumerate(reversed(counts)) if c)
    return rows[first:last]


def latency_chart(stats: dict[str, Any], path: Path) -> Path | None:
    rows = latency_histogram(stats)
    if not rows:
        return None
    fig = Figure(figsize=(9, 4.5))
    ax = fig.subplots()
    labels, counts = zip(*rows, strict=True)
    bars = ax.bar(range(len(rows)), counts, color="tab:blue")
    ax.bar_label(bars, fontsize=8)
    ax.set_xticks(range(len(rows)), labels, rotation=30, ha="right")
    ax.set_xlabel("download latency (ms)")
    ax.set_ylabel("responses")
    percentiles = ", ".join(
        f"{name} {stats[f'latency/{name}_ms']:.0f} ms"
        for name in ("p50", "p90", "p99", "max")
        if f"latency/{name}_ms" in stats
    )
    ax.set_title(f"Latency distribution ({percentiles})" if percentiles else "Latency")
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def status_counts(stats: dict[str, Any]) -> list[tuple[str, int]]:
    """(HTTP status or exception name, count), statuses first, from Scrapy's downloader stats."""
    statuses = sorted(
        (key.rsplit("/", 1)[1], value)
        for key, value in stats.items()
        if key.startswith("downloader/response_status_count/")
    )
    errors = sorted(
        (key.rsplit("/", 1)[1].rsplit(".", 1)[-1], value)
        for key, value in stats.items()
        if key.startswith("downloader/exception_type_count/")
    )
    return statuses + errors


def status_chart(stats: dict[str, Any], path: Path) -> Path | None:
    rows = status_counts(stats)
    if not rows:
        return None
    fig = Figure(figsize=(9, max(2.5, 0.45 * len(rows) + 1)))
    ax = fig.subplots()
    labels, counts = zip(*rows, strict=True)
    colors = [_status_color(label) for label in labels]
    bars = ax.barh(range(len(rows)), counts, color=colors)
    ax.bar_label(bars, fontsize=8, padding=2)
    ax.set_yticks(range(len(rows)), labels)
    ax.invert_yaxis()
    ax.margins(x=0.08)  # room for the longest bar's label
    ax.set_xlabel("responses / download errors")
    ax.set_title("HTTP status codes and download errors (every attempt, retries included)")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def _status_color(label: str) -> str:
    if not label.isdigit():
        return "tab:purple"  # an exception: no response at all
    return {"2": "tab:green", "3": "tab:blue", "4": "tab:orange"}.get(label[0], "tab:red")


def resources_chart(samples: list[dict[str, Any]], path: Path) -> Path | None:
    if not samples:
        return None
    t = [s["t"] for s in samples]
    fig = Figure(figsize=(10, 8))
    cpu, rss, fds, net = fig.subplots(4, 1, sharex=True)
    cpu.plot(t, [s["cpu_percent"] for s in samples], label="crawl (process tree)")
    cpu.plot(t, [s["system_cpu_percent"] for s in samples], label="whole machine", alpha=0.7)
    cpu.set_ylabel("CPU %")
    cpu.set_title("Resources (crawl CPU is % of one core; machine CPU is % of all cores)")
    cpu.set_ylim(bottom=0)
    rss.plot(t, [s["rss_bytes"] / MIB for s in samples], color="tab:red", label="RSS (tree)")
    rss.set_ylabel("RSS MiB")
    rss.set_ylim(bottom=0)
    fds.plot(t, [s["fds"] for s in samples], label="open file descriptors")
    fds.plot(t, [s["sockets"] for s in samples], label="open sockets")
    fds.plot(t, [s["threads"] for s in samples], label="threads")
    fds.plot(t, [s["children"] for s in samples], label="child processes")
    fds.set_ylabel("count")
    fds.set_ylim(bottom=0)
    net.plot(t, [(s.get("response_bytes") or 0) / MIB for s in samples], label="crawl responses")
    net.plot(
        t, [s["net_bytes_recv"] / MIB for s in samples], label="received, whole machine", alpha=0.7
    )
    net.set_ylabel("MiB so far")
    net.set_xlabel("seconds since the spider opened")
    for ax in (cpu, rss, fds, net):
        ax.grid(alpha=0.3)
        _legend_beside(ax)
    return _save(fig, path)


def proxies_chart(samples: list[dict[str, Any]], path: Path) -> Path | None:
    used = [s for s in samples if s.get("proxies_good") is not None or s.get("proxies_dead")]
    if not used:
        return None
    fig = Figure(figsize=(9, 3.5))
    ax = fig.subplots()
    t = [s["t"] for s in used]
    ax.plot(t, [s.get("proxies_good") or 0 for s in used], color="tab:green", label="good")
    ax.plot(t, [s.get("proxies_dead") or 0 for s in used], color="tab:red", label="dead")
    ax.plot(t, [s.get("proxies_unchecked") or 0 for s in used], color="tab:gray", label="unchecked")
    ax.set_ylabel("proxies")
    ax.set_xlabel("seconds since the spider opened")
    ax.set_title("Proxy health (proxies in each state over time)")
    ax.yaxis.get_major_locator().set_params(integer=True)
    _legend_beside(ax)  # the lines sit at the top
    ax.grid(alpha=0.3)
    return _save(fig, path)


# The data: what the crawl brought back (booksscraper/report/data.py).

TOP_CATEGORIES = 30


def categories_chart(categories: list[tuple[str, int]], path: Path) -> Path | None:
    """Books per category, most first; the tail summed in one bar."""
    if not categories:
        return None
    rows = list(categories[:TOP_CATEGORIES])
    rest = categories[TOP_CATEGORIES:]
    if rest:
        rows.append((f"{len(rest)} other categories", sum(count for _, count in rest)))
    fig = Figure(figsize=(9, max(2.5, 0.28 * len(rows) + 1.2)))
    ax = fig.subplots()
    labels = [label for label, _ in rows][::-1]
    counts = [count for _, count in rows][::-1]
    bars = ax.barh(range(len(rows)), counts, color="tab:blue")
    ax.bar_label(bars, padding=2, fontsize=8)
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.set_xlabel("books")
    ax.margins(x=0.06)
    ax.set_title(f"Books per category ({len(categories)} categories)")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def prices_chart(prices: list[float], path: Path) -> Path | None:
    """Histogram of prices with the median marked."""
    if not prices:
        return None
    fig = Figure(figsize=(9, 4))
    ax = fig.subplots()
    low, high = int(min(prices)) // 5 * 5, int(max(prices)) // 5 * 5 + 5
    ax.hist(prices, bins=range(low, high + 1, 5), color="tab:blue", edgecolor="white")
    median = statistics.median(prices)
    ax.axvline(median, color="tab:red", linestyle="--", label=f"median {median:.2f}")
    ax.set_xlabel("price (GBP, bins of 5)")
    ax.set_ylabel("books")
    ax.set_title(f"Price distribution ({len(prices)} books)")
    _legend_beside(ax)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def ratings_stock_chart(ratings: list[tuple[int, int]], availability: list[int],
                        in_stock: int, books: int, path: Path) -> Path | None:
    """Ratings (1-5 stars) beside availability (copies in stock per book)."""
    if not books:
        return None
    fig = Figure(figsize=(9, 3.8))
    stars, stock = fig.subplots(1, 2)
    counts = dict(ratings)
    bars = stars.bar(range(1, 6), [counts.get(n, 0) for n in range(1, 6)], color="tab:orange")
    stars.bar_label(bars, padding=2, fontsize=8)
    stars.set_xticks(range(1, 6), [f"{n}★" for n in range(1, 6)])
    stars.margins(y=0.1)  # room for the tallest bar's label
    stars.set_ylabel("books")
    stars.set_title("Ratings")
    stars.grid(axis="y", alpha=0.3)
    if availability:
        top = max(availability)
        stock.hist(availability, bins=range(0, top + 2), color="tab:green", edgecolor="white",
                   align="left")
    stock.set_xlabel("copies available")
    stock.set_ylabel("books")
    stock.set_title(f"Availability ({in_stock} of {books} in stock)")
    stock.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def reasons_chart(rejects: list[tuple[str, int]], failures: list[tuple[str, int]],
                  path: Path) -> Path | None:
    """The top reasons of rejects and of failures, side by side."""
    if not rejects and not failures:
        return None
    fig = Figure(figsize=(10, max(2.5, 0.35 * max(len(rejects), len(failures)) + 1.4)))
    for ax, rows, title, color in zip(fig.subplots(1, 2), (rejects, failures),
                                      ("Rejects: stage, reason", "Failures: reason"),
                                      ("tab:purple", "tab:red"), strict=True):
        ax.set_title(title)
        if not rows:
            ax.text(0.5, 0.5, "none", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            continue
        bars = ax.barh(range(len(rows)), [c for _, c in rows][::-1], color=color)
        ax.bar_label(bars, padding=2, fontsize=8)
        ax.margins(x=0.1)
        ax.xaxis.get_major_locator().set_params(integer=True)  # counts: no 0.5 ticks
        pad = max(0.0, (3 - len(rows)) / 2)  # one or two bars stay bar-sized
        ax.set_ylim(-0.5 - pad, len(rows) - 0.5 + pad)
        ax.set_yticks(range(len(rows)), [label for label, _ in rows][::-1], fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)
