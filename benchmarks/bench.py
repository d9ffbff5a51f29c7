"""`make bench`: booksscraper against the approaches people write, in one run.

    python -m benchmarks.bench [--books 1000] [--scenarios A,B] [--skip sequential]
                               [--write BENCHMARKS.md]
    python -m benchmarks.bench --scale [--scale-books 100000] [--write BENCHMARKS.md]

Every program crawls the same sandbox (listing pages, then every book page)
at 16 concurrent requests in two scenarios: (A) no added latency, (B) 100 ms
latency. For each it reports the crawl's wall time, pages/s, CPU seconds per
1000 pages of the main process (getrusage at exit, through measure.py) and of
its whole process tree (psutil samples), peak RSS, and whether its output
matches the sandbox's ground truth; ratios are against booksscraper measured
in the same run. ``--scale`` crawls a 1,000- and a 100,000-book catalogue with
booksscraper (JOBDIR disk queues, streaming export) and compares peak RSS and
time per page.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from booksscraper.sandbox.testing import running_sandbox  # noqa: E402
from booksscraper.tools.truth import differences  # noqa: E402

CONCURRENCY = 16
SCENARIOS = {"A": 0, "B": 100}  # added latency, ms
OURS = "booksscraper"
BASELINES = ["sequential", "threads", "asyncio_gather", "hybrid", "plain_scrapy"]
# Not crawlers: the same pages fetched with nothing else done, the transport floors
# (aiohttp alone; Scrapy with booksscraper's transport settings).
FLOORS = ["fetch_floor", "scrapy_floor"]


def command(program: str, url: str, out: Path, extra: list[str]) -> list[str]:
    if program == OURS:
        return [
            "-m",
            "scrapy",
            "crawl",
            "books",
            "-a",
            f"start_url={url}",
            "-s",
            f"OUTPUT_DIR={out}",
            # CONCURRENCY in flight at the site (the column "server peak" shows it); twice
            # that in the engine, so a freed connection finds the next request waiting.
            "-s",
            f"CONCURRENT_REQUESTS={2 * CONCURRENCY}",
            "-s",
            f"CONCURRENT_REQUESTS_PER_DOMAIN={CONCURRENCY}",
            "-s",
            "LOG_LEVEL=WARNING",
            *extra,
        ]
    return [
        "-m",
        f"benchmarks.baselines.{program}",
        url,
        str(out / "books.json"),
        str(CONCURRENCY),
        *extra,
    ]


@dataclass
class TreeSampler:
    """Samples a process tree: total CPU seconds and peak summed RSS."""

    pid: int
    interval: float = 0.1
    cpu: dict[int, float] = field(default_factory=dict)
    peak_rss: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        root = psutil.Process(self.pid)
        while not self._stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                break
            rss = 0
            for proc in procs:
                try:
                    times = proc.cpu_times()
                    self.cpu[proc.pid] = times.user + times.system
                    rss += proc.memory_info().rss
                except psutil.Error:
                    continue
            self.peak_rss = max(self.peak_rss, rss)
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()


def run_program(program: str, sandbox, extra: list[str] | None = None) -> dict:
    sandbox.reset()
    with tempfile.TemporaryDirectory(prefix=f"bench-{program}-") as tmp:
        out = Path(tmp)
        usage = out / "usage.json"
        argv = [
            sys.executable,
            str(REPO / "benchmarks" / "measure.py"),
            str(usage),
            *command(program, sandbox.base_url, out, extra or []),
        ]
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        sampler = TreeSampler(proc.pid)
        thread = threading.Thread(target=sampler.run, daemon=True)
        thread.start()
        stdout, stderr = proc.communicate()
        wall = time.perf_counter() - started
        sampler.stop()
        thread.join()
        if proc.returncode != 0:
            raise SystemExit(f"{program} failed (exit {proc.returncode}):\n{stderr[-3000:]}")
        books = json.loads((out / "books.json").read_text(encoding="utf-8"))
        used = json.loads(usage.read_text())
        if program == OURS:
            stats = json.loads((out / "stats.json").read_text())
            crawl_seconds = stats["elapsed_time_seconds"]
        else:
            crawl_seconds = json.loads(stdout.strip().splitlines()[-1])["crawl_seconds"]
    served = sandbox.stats()
    pages = served["requests_total"]
    server_peak = served["peak_in_flight"]
    problems = [] if program in FLOORS else differences(books, sandbox.truth())
    return {
        "program": program,
        "pages": pages,
        "books": len(books),
        "crawl_seconds": crawl_seconds,
        "process_seconds": wall,
        "pages_per_second": pages / crawl_seconds,
        "cpu_main_per_1000": 1000 * used["cpu_self"] / pages,
        "cpu_tree_per_1000": 1000
        * max(sum(sampler.cpu.values()), used["cpu_self"] + used["cpu_children"])
        / pages,
        "rss_main_mib": used["maxrss_self_kib"] / 1024,
        "rss_tree_mib": sampler.peak_rss / 2**20,
        "server_peak": server_peak,
        "correct": not problems,
        "problems": problems[:3],
    }


def machine() -> str:
    cpu = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Python {platform.python_version()},"
        f" {platform.system()} {platform.release()}"
    )


def markdown(columns: list[tuple[str, str]], rows: list[dict]) -> str:
    """A Markdown table; each column is (header, format string over the row)."""
    lines = [
        "| " + " | ".join(header for header, _ in columns) + " |",
        "| " + " | ".join("---" if i == 0 else "---:" for i in range(len(columns))) + " |",
    ]
    for row in rows:
        lines.append("| " + " | ".join(fmt.format(**row) for _, fmt in columns) + " |")
    return "\n".join(lines)


def verdict(row: dict) -> str:
    if row["program"] in FLOORS:
        return "n/a (fetches only)"
    return "yes" if row["correct"] else "NO: " + "; ".join(row["problems"])


def table(rows: list[dict]) -> str:
    ours = next(r for r in rows if r["program"] == OURS)
    for r in rows:
        r["time_ratio"] = r["crawl_seconds"] / ours["crawl_seconds"]
        r["cpu_ratio"] = r["cpu_main_per_1000"] / ours["cpu_main_per_1000"]
        r["verdict"] = verdict(r)
    columns = [
        ("program", "{program}"),
        ("crawl s", "{crawl_seconds:.2f}"),
        ("x ours", "{time_ratio:.2f}"),
        ("pages/s", "{pages_per_second:.0f}"),
        ("server peak in flight", "{server_peak}"),
        ("main CPU s / 1000 pages", "{cpu_main_per_1000:.2f}"),
        ("x ours", "{cpu_ratio:.2f}"),
        ("tree CPU s / 1000 pages", "{cpu_tree_per_1000:.2f}"),
        ("peak RSS main MiB", "{rss_main_mib:.0f}"),
        ("peak RSS tree MiB", "{rss_tree_mib:.0f}"),
        ("correct", "{verdict}"),
    ]
    return markdown(columns, rows)


def summary(rows: list[dict], latency: int) -> str:
    ours = next(r for r in rows if r["program"] == OURS)
    if latency:
        bound = ours["pages"] * latency / 1000 / CONCURRENCY
        text = (
            f"Little's-law bound: {ours['pages']} pages x {latency / 1000:.1f} s / {CONCURRENCY}"
            f" = {bound:.2f} s; booksscraper took {ours['crawl_seconds']:.2f} s"
            f" ({ours['crawl_seconds'] / bound:.3f}x the bound)."
        )
        for floor in (r for r in rows if r["program"] in FLOORS):
            text += (
                f" {floor['program']} (the same pages, nothing parsed, no order) took"
                f" {floor['crawl_seconds']:.2f} s ({floor['crawl_seconds'] / bound:.3f}x the"
                f" bound; booksscraper {ours['crawl_seconds'] / floor['crawl_seconds']:.3f}x it)."
            )
        return text
    others = [r for r in rows if r["program"] != OURS and r["program"] not in FLOORS]
    fastest = max(others, key=lambda r: r["pages_per_second"])
    text = (
        f"Fastest baseline: {fastest['program']} at {fastest['pages_per_second']:.0f} pages/s;"
        f" booksscraper {ours['pages_per_second']:.0f} pages/s"
        f" ({ours['pages_per_second'] / fastest['pages_per_second']:.2f}x)."
    )
    plain = next((r for r in rows if r["program"] == "plain_scrapy"), None)
    if plain:
        ratio = ours["cpu_main_per_1000"] / plain["cpu_main_per_1000"]
        text += f" Main-process CPU per page: {ratio:.2f}x plain Scrapy's."
    return text


def compare(args: argparse.Namespace) -> str:
    programs = [p for p in [*BASELINES, *FLOORS, OURS] if p not in args.skip]
    sections = []
    for name in args.scenarios:
        latency = SCENARIOS[name]
        rows = []
        with running_sandbox(books=args.books, seed=1, latency_ms=latency) as sandbox:
            for program in programs:
                print(f"[{name}] {program} ...", file=sys.stderr, flush=True)
                extra = args.extra if program == OURS else []
                rows.append(run_program(program, sandbox, extra))
        title = (
            f"### ({name}) {latency} ms added latency, {CONCURRENCY} concurrent, {args.books} books"
        )
        text = f"{title}\n\n{table(rows)}\n\n{summary(rows, latency)}"
        print(text, flush=True)
        sections.append(text)
    return "\n\n".join(sections)


def scale(args: argparse.Namespace) -> str:
    rows = []
    for books in (1000, args.scale_books):
        with running_sandbox(books=books, seed=1) as sandbox, tempfile.TemporaryDirectory() as job:
            print(f"[scale] {books} books ...", file=sys.stderr, flush=True)
            row = run_program(OURS, sandbox, ["-s", f"JOBDIR={job}", *args.extra])
        row["program"] = f"{OURS}, {books} books"
        row["seconds_per_1000"] = 1000 * row["crawl_seconds"] / row["pages"]
        row["verdict"] = verdict(row)
        rows.append(row)
    small, big = rows
    columns = [
        ("run", "{program}"),
        ("pages", "{pages}"),
        ("crawl s", "{crawl_seconds:.1f}"),
        ("s / 1000 pages", "{seconds_per_1000:.2f}"),
        ("peak RSS main MiB", "{rss_main_mib:.0f}"),
        ("peak RSS tree MiB", "{rss_tree_mib:.0f}"),
        ("correct", "{verdict}"),
    ]
    rss_main = big["rss_main_mib"] / small["rss_main_mib"]
    rss_tree = big["rss_tree_mib"] / small["rss_tree_mib"]
    per_page = big["seconds_per_1000"] / small["seconds_per_1000"]
    # A run with --set gets its own heading: its section sits beside the default run's.
    variant = f", with {', '.join(args.settings)}" if args.settings else ""
    text = (
        f"### Scale: 1,000 vs {args.scale_books:,} books (JOBDIR, streaming export){variant}\n\n"
        f"{markdown(columns, rows)}\n\n"
        f"Peak RSS of the main process: {rss_main:.2f}x the 1,000-book run (tree: {rss_tree:.2f}x);"
        f" time per page: {per_page:.2f}x."
    )
    print(text, flush=True)
    return text


def write_section(path: Path, marker: str, body: str, command_line: str) -> None:
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = f"{start}\nCommand: `{command_line}`, {stamp}, on {machine()}.\n\n{body}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if start in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", type=int, default=1000)
    parser.add_argument("--scenarios", type=lambda s: s.split(","), default=list(SCENARIOS))
    parser.add_argument("--skip", type=lambda s: s.split(","), default=[])
    parser.add_argument("--scale", action="store_true", help="the 100x catalogue run instead")
    parser.add_argument("--scale-books", type=int, default=100_000)
    parser.add_argument("--write", type=Path, help="update this Markdown file's section")
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Scrapy setting for booksscraper's runs (repeatable)",
    )
    args = parser.parse_args()
    args.extra = [arg for setting in args.settings for arg in ("-s", setting)]
    command_line = "python -m benchmarks.bench " + " ".join(sys.argv[1:])
    body = scale(args) if args.scale else compare(args)
    if args.write:
        marker = ("bench-scale" if args.scale else "bench") + ("-variant" if args.extra else "")
        write_section(args.write, marker, body, command_line)


if __name__ == "__main__":
    main()
