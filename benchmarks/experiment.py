"""Politeness experiment: speed against server load, Scrapy's settings against our controller.

    python benchmarks/experiment.py [--books 300] [--concurrency "1 2 4 8 16"] [--quick]
        [--repeats 3] [--out benchmarks/results/politeness]
    python benchmarks/experiment.py --rewrite   # results.md again from runs.csv (same data)

One sandbox with a capacity model (``--workers`` K slots of ``--service-ms``:
latency rises past K requests in flight) and a per-IP token bucket
(``--rate-limit`` requests/s, ``--rate-burst``). Each run is a real ``scrapy
crawl books`` subprocess; the sandbox's stats are reset before each run.

Runs: a fixed CONCURRENT_REQUESTS (= CONCURRENT_REQUESTS_PER_DOMAIN) for each value of
``--concurrency`` [1 2 4 8 16 32 64]; DOWNLOAD_DELAY values at concurrency 16; AutoThrottle
(target concurrency 1 and 4: Scrapy's own adaptive delay, not a fixed setting); the
adaptive controller (ADAPTIVE_CONCURRENCY_ENABLED, CONCURRENT_REQUESTS 64 as its
ceiling). Then a capacity drop: while a bigger crawl runs, the harness
cuts the server's workers (K -> ``--drop-workers``) for ``--drop-seconds`` and
restores them, recording the controller's concurrency (its trace) and the
server's in-flight requests (polled from /__stats) over time; the same for a
fixed concurrency of 16, for comparison.

Per run: pages/s (HTTP 200 responses / crawl time), crawl time, p50 latency
(exact, ``latency/p50_ms``) and p95 (estimated from the crawl's latency
histogram, log-interpolated within a bucket), the server's peak in-flight
and peak requests/s, 429 and 5xx counts, retries, books exported.

Writes to ``--out``: ``runs.csv``, ``results.md`` (table and verdict),
``timeseries.csv``, ``throughput_vs_concurrency.png``, ``frontier.png``,
``capacity_drop.png``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from booksscraper.extensions.latency import BUCKETS_MS  # noqa: E402
from booksscraper.sandbox.testing import RunningSandbox, running_sandbox  # noqa: E402

FULL_CONCURRENCY = (1, 2, 4, 8, 16, 32, 64)
QUICK_CONCURRENCY = (1, 8, 64)
ADAPTIVE_ARGS = {
    "CONCURRENT_REQUESTS": "64",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "64",
    "ADAPTIVE_CONCURRENCY_ENABLED": "True",
}


@dataclass
class Run:
    name: str
    kind: str  # fixed, delay, autothrottle, adaptive
    settings: dict[str, str]
    concurrency: int = 0
    results: dict[str, Any] = field(default_factory=dict)


# How a kind of run is named in the verdict.
KINDS = {"fixed": "a fixed concurrency", "delay": "a download delay",
         "autothrottle": "AutoThrottle", "adaptive": "the adaptive controller"}
# Crawls this short (a quick run) cannot tell 90% of the best from 70%: no verdict.
MIN_JUDGED_BOOKS = 300


def concurrency_values(text: str) -> tuple[int, ...]:
    """``"1 2 4"`` or ``"1,2,4"``: positive integers, each once, in order."""
    try:
        values = sorted({int(part) for part in text.replace(",", " ").split()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of whole numbers: {text!r}") from None
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError(f"give one or more values >= 1, got {text!r}")
    return tuple(values)


def plan(quick: bool, concurrency: tuple[int, ...] | None = None) -> list[Run]:
    runs = [
        Run(f"fixed c={c}", "fixed",
            {"CONCURRENT_REQUESTS": str(c), "CONCURRENT_REQUESTS_PER_DOMAIN": str(c)}, c)
        for c in concurrency or (QUICK_CONCURRENCY if quick else FULL_CONCURRENCY)
    ]
    for delay in (0.02,) if quick else (0.01, 0.02, 0.05):
        runs.append(Run(f"delay {delay:g}s c=16", "delay", {
            "CONCURRENT_REQUESTS": "16", "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
            "DOWNLOAD_DELAY": str(delay)}, 16))
    for target in (1,) if quick else (1, 4):
        runs.append(Run(f"autothrottle t={target} c=16", "autothrottle", {
            "CONCURRENT_REQUESTS": "16", "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
            "AUTOTHROTTLE_ENABLED": "True", "AUTOTHROTTLE_START_DELAY": "0.1",
            "AUTOTHROTTLE_TARGET_CONCURRENCY": str(target)}, 16))
    runs.append(Run("adaptive", "adaptive", dict(ADAPTIVE_ARGS), 64))
    return runs


def crawl(sb: RunningSandbox, settings: dict[str, str], out_dir: Path,
          timeout: float) -> tuple[dict[str, Any], float]:
    """One ``scrapy crawl books``; returns its final stats and the wall time."""
    args = [sys.executable, "-m", "scrapy", "crawl", "books", "-a", f"start_url={sb.base_url}",
            "-s", f"OUTPUT_DIR={out_dir}", "-s", "LOG_LEVEL=WARNING"]
    for key, value in settings.items():
        args += ["-s", f"{key}={value}"]
    started = time.monotonic()
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          check=False)
    wall = time.monotonic() - started
    stats_file = out_dir / "stats.json"
    if not stats_file.exists():
        raise RuntimeError(f"crawl failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(stats_file.read_text()), wall


def histogram_quantile(stats: dict[str, Any], q: float) -> float | None:
    """Quantile (ms) from ``latency/histogram_ms/<upper bound>``, log-interpolated in its bucket."""
    prefix = "latency/histogram_ms/"
    counts = {k[len(prefix):]: v for k, v in stats.items() if k.startswith(prefix)}
    total = sum(counts.values())
    if not total:
        return None
    seen, lower = 0.0, BUCKETS_MS[0] / 1.5
    for upper in (*BUCKETS_MS, math.inf):
        count = counts.get("inf" if upper == math.inf else f"{upper:g}", 0)
        if count and seen + count >= q * total:
            if upper == math.inf:
                return lower
            return lower * (upper / lower) ** ((q * total - seen) / count)
        seen += count
        lower = upper
    return lower


def measure(sb: RunningSandbox, run: Run, books: int, tmp: Path, timeout: float,
            repeats: int) -> None:
    """Runs ``run`` ``repeats`` times; keeps the run with the median pages/s, and the spread."""
    tries = []
    for attempt in range(repeats):
        tries.append(measure_once(sb, run, books, tmp / f"try{attempt}", timeout))
    tries.sort(key=lambda r: r["pages_per_s"])
    run.results = {**tries[(len(tries) - 1) // 2],
                   "pages_per_s_min": tries[0]["pages_per_s"],
                   "pages_per_s_max": tries[-1]["pages_per_s"]}
    x = run.results
    spread = f" (runs: {x['pages_per_s_min']}..{x['pages_per_s_max']})" if repeats > 1 else ""
    print(f"{run.name:28} {x['pages_per_s']:7.1f} pages/s{spread}  429={x['http_429']:<4} "
          f"peak in-flight={x['server_peak_in_flight']:<3} books={x['books']}/{books}", flush=True)


def measure_once(sb: RunningSandbox, run: Run, books: int, tmp: Path,
                 timeout: float) -> dict[str, Any]:
    sb.reset()
    out = tmp / run.name.replace(" ", "_").replace("=", "")
    stats, wall = crawl(sb, run.settings, out, timeout)
    server = sb.stats()
    by_status = {int(k): v for k, v in server.get("by_status", {}).items()}
    elapsed = stats.get("elapsed_time_seconds") or wall
    ok = stats.get("downloader/response_status_count/200", 0)
    requests_total = server.get("requests_total", 0)
    p95 = histogram_quantile(stats, 0.95)
    return {
        "pages_per_s": round(ok / elapsed, 2),
        "crawl_s": round(elapsed, 2),
        "p50_ms": stats.get("latency/p50_ms"),
        "p95_ms": None if p95 is None else round(p95, 1),
        "server_peak_in_flight": server.get("peak_in_flight"),
        "server_peak_rps": server.get("peak_rps"),
        "server_requests": requests_total,
        "http_429": by_status.get(429, 0),
        "throttled_pct": round(100 * by_status.get(429, 0) / max(1, requests_total), 2),
        "http_5xx": sum(v for k, v in by_status.items() if k >= 500),
        "retries": stats.get("retry/count", 0),
        "books": stats.get("item_scraped_count", 0),
        "books_expected": books,
        "adaptive_final_concurrency": stats.get("adaptive/concurrency/final"),
    }


class ServerPoller(threading.Thread):
    """Samples the sandbox's in-flight requests and request count while a crawl runs."""

    def __init__(self, sb: RunningSandbox, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.sb, self.interval = sb, interval
        self.samples: list[dict[str, Any]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                s = self.sb.stats()
            except Exception:  # a sample lost during shutdown is fine
                s = None
            if s is not None:
                self.samples.append({"wall": time.time(), "in_flight": s["in_flight"],
                                     "requests": s["requests_total"]})
            self.stopped.wait(self.interval)


def capacity_drop(sb: RunningSandbox, name: str, settings: dict[str, str], tmp: Path,
                  workers: int, drop_workers: int, drop_after: float, drop_seconds: float,
                  timeout: float) -> list[dict[str, Any]]:
    """A crawl during which the server's capacity drops and returns; its time series."""
    sb.reset()
    out = tmp / f"drop-{name}"
    settings = {**settings, "ADAPTIVE_CONCURRENCY_TRACE": "trace.jsonl"}
    poller = ServerPoller(sb)
    events: list[tuple[float, int]] = []

    def schedule() -> None:
        # Start counting when the crawl's first request reaches the server.
        while not poller.stopped.is_set() and sb.stats()["requests_total"] == 0:
            time.sleep(0.05)
        if poller.stopped.wait(drop_after):
            return
        sb.configure(workers=drop_workers)
        events.append((time.time(), drop_workers))
        if poller.stopped.wait(drop_seconds):
            return
        sb.configure(workers=workers)
        events.append((time.time(), workers))

    changer = threading.Thread(target=schedule, daemon=True)
    poller.start()
    changer.start()
    try:
        crawl(sb, settings, out, timeout)
    finally:
        poller.stopped.set()
        poller.join()
        changer.join()
        sb.configure(workers=workers)
    active = [s["wall"] for s in poller.samples if s["requests"] > 0]
    t0 = active[0] if active else time.time()
    rows = [{"scenario": name, "source": "server", "t": round(s["wall"] - t0, 3),
             "value": s["in_flight"], "series": "server_in_flight"}
            for s in poller.samples if s["wall"] >= t0 - 0.2]
    for when, k in events:
        rows.append({"scenario": name, "source": "harness", "t": round(when - t0, 3),
                     "value": k, "series": "server_workers"})
    trace = out / "trace.jsonl"
    if trace.exists():
        for line in trace.read_text().splitlines():
            record = json.loads(line)
            rows.append({"scenario": name, "source": "controller",
                         "t": round(record["wall"] - t0, 3), "value": record["concurrency"],
                         "series": "controller_concurrency"})
    return rows


# -- output ------------------------------------------------------------------------------------
COLUMNS = ("name", "kind", "concurrency", "pages_per_s", "pages_per_s_min", "pages_per_s_max",
           "crawl_s", "p50_ms", "p95_ms",
           "server_peak_in_flight", "server_peak_rps", "server_requests", "http_429",
           "throttled_pct", "http_5xx", "retries", "books", "books_expected")


def write_csv(runs: list[Run], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for run in runs:
            writer.writerow({**asdict(run), **run.results})


def verdict(runs: list[Run], repeats: int = 1) -> list[str]:
    """What the runs show, and only that: a quick run is too short to judge the target."""
    complete = [r for r in runs if r.results["books"] == r.results["books_expected"]]
    others = [r for r in complete if r.kind != "adaptive"]
    adaptive = [r for r in runs if r.kind == "adaptive"]
    lines = []
    if not others or not adaptive:
        return ["Not enough complete runs for a verdict."]

    def described(run: Run) -> str:
        x = run.results
        return (f"**{run.name}** ({KINDS[run.kind]}), {x['pages_per_s']} pages/s, "
                f"{x['throttled_pct']}% 429, server peak in-flight {x['server_peak_in_flight']}")

    best = max(others, key=lambda r: r.results["pages_per_s"])
    polite = [r for r in others if r.results["throttled_pct"] <= 1.0]
    best_polite = max(polite, key=lambda r: r.results["pages_per_s"]) if polite else None
    a = adaptive[0].results
    ratio = a["pages_per_s"] / best.results["pages_per_s"]
    lines.append(f"- Fastest run without the controller (all books exported): {described(best)}.")
    if best_polite is not None and best_polite is not best:
        lines.append(f"- Fastest of those with at most 1% 429: {described(best_polite)}.")
    lines.append(f"- Adaptive controller: {a['pages_per_s']} pages/s = **{ratio:.0%}** of the "
                 f"fastest, {a['throttled_pct']}% 429, server peak in-flight "
                 f"{a['server_peak_in_flight']}, books {a['books']}/{a['books_expected']}.")
    target = "Target (>= 90% of the fastest, <= 1% 429, every book)"
    if a["books_expected"] < MIN_JUDGED_BOOKS:
        lines.append(f"- {target}: **not judged**: {a['books_expected']} books make crawls of "
                     f"about {a['crawl_s']} s, too short to tell 90% from 70%. A smoke test "
                     "that everything runs; `make experiment REPEATS=3` judges.")
        return lines
    met = ratio >= 0.9 and a["throttled_pct"] <= 1.0 and a["books"] == a["books_expected"]
    noise = "" if repeats > 1 else (
        " One crawl per setting: two runs of the harness differ by 10-20%, so a gap that "
        "small is not a result (REPEATS=3).")
    lines.append(f"- {target}: **{'met' if met else 'not met'}** in this run.{noise}")
    return lines


def write_markdown(runs: list[Run], path: Path, config: dict[str, Any], lines: list[str]) -> None:
    head = ("| run | pages/s | crawl s | p50 ms | p95 ms | server peak in-flight | "
            "server peak rps | 429 | 429 % | 5xx | retries | books |")
    rows = [head, "|" + "---|" * 12]
    for r in runs:
        x = r.results
        rate = str(x["pages_per_s"])
        if x["pages_per_s_min"] != x["pages_per_s_max"]:
            rate += f" ({x['pages_per_s_min']}-{x['pages_per_s_max']})"
        rows.append(f"| {r.name} | {rate} | {x['crawl_s']} | {x['p50_ms']} | "
                    f"{x['p95_ms']} | {x['server_peak_in_flight']} | {x['server_peak_rps']} | "
                    f"{x['http_429']} | {x['throttled_pct']} | {x['http_5xx']} | {x['retries']} | "
                    f"{x['books']}/{x['books_expected']} |")
    sandbox = ", ".join(f"{k}={v}" for k, v in config.items())
    text = [
        "# Politeness experiment", "",
        f"Sandbox: {sandbox}. Written by `benchmarks/experiment.py` (`make experiment`).",
        "p95 is estimated from the crawl's latency histogram (within a bucket, about ±20%).",
        f"Crawls per setting: {config.get('repeats', 1)} (the median by pages/s is shown, "
        "with the range of all of them in brackets). One crawl takes a few seconds on a "
        "shared 2-core machine: expect differences of 10-20% between two runs of the harness.",
        "",
        *rows, "", "## Verdict", "", *lines, "",
        "Plots: `throughput_vs_concurrency.png`, `frontier.png`, `capacity_drop.png`.", "",
    ]
    path.write_text("\n".join(text))


def plot(runs: list[Run], series: list[dict[str, Any]], out: Path,
         drop_workers: int, workers: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fixed = [r for r in runs if r.kind == "fixed"]
    others = [r for r in runs if r.kind != "fixed"]
    xs = [r.concurrency for r in fixed]
    styles = {"delay": ("s", "tab:purple"), "autothrottle": ("^", "tab:orange"),
              "adaptive": ("*", "tab:green")}

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5))
    ax1.plot(xs, [r.results["pages_per_s"] for r in fixed], "o-", color="tab:blue",
             label="fixed CONCURRENT_REQUESTS")
    for r in others:
        marker, color = styles[r.kind]
        if r.kind == "adaptive":
            ax1.axhline(r.results["pages_per_s"], color=color, ls="--",
                        label=f"adaptive controller ({r.results['pages_per_s']} pages/s)")
        else:
            ax1.plot([r.concurrency], [r.results["pages_per_s"]], marker, color=color, ms=9,
                     label=r.name)
    ax1.set_xscale("log", base=2)
    ax1.set_xticks(xs, [str(x) for x in xs])
    ax1.set_xlabel("CONCURRENT_REQUESTS (= per domain)")
    ax1.set_ylabel("pages/s")
    ax1.set_title("Throughput against concurrency")
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8, loc="lower right")

    ax2.plot(xs, [r.results["server_peak_in_flight"] for r in fixed], "o-", color="tab:red",
             label="server peak in-flight")
    ax2.plot(xs, [r.results["server_peak_rps"] for r in fixed], "o-", color="tab:brown",
             label="server peak requests/s")
    ax2.plot(xs, [r.results["http_429"] for r in fixed], "o-", color="tab:gray",
             label="429 responses")
    for r in others:
        if r.kind == "adaptive":
            ax2.axhline(r.results["server_peak_in_flight"], color="tab:green", ls="--",
                        label="adaptive: server peak in-flight")
            ax2.axhline(r.results["server_peak_rps"], color="tab:green", ls=":",
                        label="adaptive: server peak requests/s")
    ax2.set_xscale("log", base=2)
    ax2.set_xticks(xs, [str(x) for x in xs])
    ax2.set_xlabel("CONCURRENT_REQUESTS (= per domain)")
    ax2.set_title("Load on the server against concurrency")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "throughput_vs_concurrency.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 6))
    for r in runs:
        marker, color = styles.get(r.kind, ("o", "tab:blue"))
        x, y = r.results["server_peak_in_flight"], r.results["pages_per_s"]
        ax.plot([x], [y], marker, color=color, ms=12 if r.kind == "adaptive" else 8)
        label = f"{r.name} ({r.results['throttled_pct']}% 429)"
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=7)
    # Pareto frontier: no other run is both faster and lighter on the server.
    points = sorted((r.results["server_peak_in_flight"], r.results["pages_per_s"]) for r in runs)
    frontier, best = [], -1.0
    for x, y in points:
        if y > best:
            frontier.append((x, y))
            best = y
    ax.plot(*zip(*frontier, strict=True), "-", color="black", alpha=0.4, label="frontier")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("server peak in-flight requests (load; log scale)")
    ax.set_ylabel("pages/s")
    ax.set_title("Throughput against server load (up and left is better)")
    ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], marker=m, color=c, ls="", label=KINDS[k])
               for k, (m, c) in {"fixed": ("o", "tab:blue"), **styles}.items()]
    ax.legend(handles=handles, fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "frontier.png", dpi=110)
    plt.close(fig)

    scenarios = sorted({row["scenario"] for row in series})
    if not scenarios:
        return
    fig, axes = plt.subplots(len(scenarios), 1, figsize=(11, 3.6 * len(scenarios)), sharex=True,
                             squeeze=False)
    for ax, scenario in zip(axes[:, 0], scenarios, strict=True):
        rows = [row for row in series if row["scenario"] == scenario]
        server = [(row["t"], row["value"]) for row in rows if row["series"] == "server_in_flight"]
        ctrl = [(row["t"], row["value"]) for row in rows
                if row["series"] == "controller_concurrency"]
        changes = [row["t"] for row in rows if row["series"] == "server_workers"]
        if server:
            ax.plot(*zip(*server, strict=True), color="tab:red", lw=1,
                    label="server in-flight requests")
        if ctrl:
            ax.step(*zip(*ctrl, strict=True), where="post", color="tab:green", lw=2,
                    label="controller concurrency")
        if len(changes) == 2:
            ax.axvspan(changes[0], changes[1], color="gray", alpha=0.2,
                       label=f"server capacity cut: {workers} -> {drop_workers} workers")
        ax.set_ylabel("requests")
        ax.set_title(f"Capacity drop during the crawl: {scenario}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    axes[-1, 0].set_xlabel("seconds since the crawl's first request")
    fig.tight_layout()
    fig.savefig(out / "capacity_drop.png", dpi=110)
    plt.close(fig)


def rewrite(out: Path) -> int:
    """results.md from runs.csv: the same figures with the current wording."""
    with (out / "runs.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    runs = []
    for row in rows:
        results = {k: _number(v) for k, v in row.items() if k not in ("name", "kind")}
        runs.append(Run(row["name"], row["kind"], {}, int(results["concurrency"]), results))
    old = (out / "results.md").read_text(encoding="utf-8").splitlines()
    sandbox = next(line for line in old if line.startswith("Sandbox: "))
    config = dict(item.split("=", 1) for item in sandbox[len("Sandbox: "):].split(". ")[0]
                  .split(", "))
    repeats = int(config.get("repeats", 1))
    write_markdown(runs, out / "results.md", config, verdict(runs, repeats))
    with (out / "timeseries.csv").open(newline="") as f:
        series = [{**row, "t": float(row["t"]), "value": float(row["value"])}
                  for row in csv.DictReader(f)]
    plot(runs, series, out, 1, int(config.get("workers", 4)))
    print(f"wrote {out / 'results.md'} and the plots")
    return 0


def _number(text: str) -> Any:
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--books", type=int, default=300, help="sandbox catalogue size [300]")
    parser.add_argument("--concurrency", type=concurrency_values, default=None,
                        help="CONCURRENT_REQUESTS values of the sweep, e.g. \"1 2 4 8 16\" "
                             "[1 2 4 8 16 32 64; --quick: 1 8 64]")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 60 books, 3 concurrency values, fewer runs; no verdict")
    parser.add_argument("--rewrite", action="store_true",
                        help="results.md and the plots again from --out's runs.csv and "
                             "timeseries.csv (no crawl)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/politeness",
                        help="output folder [benchmarks/results/politeness]")
    parser.add_argument("--workers", type=int, default=4, help="server capacity K [4]")
    parser.add_argument("--service-ms", type=float, default=50.0,
                        help="service time under a worker, ms [50]")
    parser.add_argument("--rate-limit", type=float, default=60.0,
                        help="per-IP token bucket, requests/s [60]")
    parser.add_argument("--rate-burst", type=int, default=20, help="token bucket size [20]")
    parser.add_argument("--drop-books", type=int, default=600,
                        help="catalogue size of the capacity-drop runs [600]")
    parser.add_argument("--drop-workers", type=int, default=1,
                        help="server workers during the capacity drop [1]")
    parser.add_argument("--drop-after", type=float, default=4.0,
                        help="seconds after the first request the capacity drops [4]")
    parser.add_argument("--drop-seconds", type=float, default=5.0,
                        help="how long the capacity stays low [5]")
    parser.add_argument("--repeats", type=int, default=1,
                        help="crawls per setting; the table keeps the median by pages/s [1]")
    parser.add_argument("--timeout", type=float, default=300.0, help="per crawl, seconds [300]")
    args = parser.parse_args(argv)
    if args.rewrite:
        return rewrite(args.out)
    books = 60 if args.quick else args.books
    drop_books = 150 if args.quick else args.drop_books
    drop_after, drop_seconds = (2.0, 2.0) if args.quick else (args.drop_after, args.drop_seconds)
    args.out.mkdir(parents=True, exist_ok=True)
    config = {"workers": args.workers, "service_ms": args.service_ms,
              "rate_limit": args.rate_limit, "rate_burst": args.rate_burst}
    runs = plan(args.quick, args.concurrency)
    series: list[dict[str, Any]] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="politeness-") as tmp_name:
        tmp = Path(tmp_name)
        with running_sandbox(books=books, seed=7, **config) as sb:
            for run in runs:
                measure(sb, run, books, tmp, args.timeout, args.repeats)
        with running_sandbox(books=drop_books, seed=7, **config) as sb:
            for name, settings in (
                ("adaptive controller", dict(ADAPTIVE_ARGS)),
                ("fixed c=16", {"CONCURRENT_REQUESTS": "16",
                                "CONCURRENT_REQUESTS_PER_DOMAIN": "16"}),
            ):
                series += capacity_drop(sb, name, settings, tmp, args.workers, args.drop_workers,
                                        drop_after, drop_seconds, args.timeout)
                print(f"capacity drop: {name} done", flush=True)
    lines = verdict(runs, args.repeats)
    write_csv(runs, args.out / "runs.csv")
    with (args.out / "timeseries.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=("scenario", "source", "series", "t", "value"))
        writer.writeheader()
        writer.writerows(series)
    write_markdown(runs, args.out / "results.md",
                   {**config, "books": books, "drop_books": drop_books,
                    "repeats": args.repeats}, lines)
    plot(runs, series, args.out, args.drop_workers, args.workers)
    print("\n".join(lines))
    print(f"wrote {args.out} in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
