"""Per-page cost of the full stack against plain Scrapy, measured in the same run.

    python -m benchmarks.per_page [--books 1000] [--latency 100] [--repeats 5]
                                  [--write BENCHMARKS.md]

One sandbox with ``--latency`` ms added to every answer; plain Scrapy
(``benchmarks/baselines/plain_scrapy.py``) and ``scrapy crawl books`` (the whole
stack: validation, cleanup pool, export, incremental cache, monitoring) take
turns, ``--repeats`` times each, so drift on a shared machine hits both alike.
Per program: the median main-process CPU per page (getrusage at exit, start-up
included) and the median whole-process wall time (from start to exit); the
ratios are ours over plain Scrapy's. The target (issue 27): CPU per page within
1.05x, whole-process time at most 1.00x.

Like with like: both fetch the same pages (plain Scrapy obeys robots.txt too, as
``scrapy startproject`` sets it) and keep 16 requests in flight at the site, which
the table shows as the sandbox's own peak count. Plain Scrapy runs with
``CONCURRENT_REQUESTS`` = ``CONCURRENT_REQUESTS_PER_DOMAIN`` = 16: with more in the
engine, Scrapy 2.19's downloader sends bursts past the per-domain limit (the server
peak would show more than 16). Ours runs with 32 in the engine and 16 per domain,
which its downloader keeps (``booksscraper.compat.PerSlotLimitDownloader``).

The project's modules are compiled first (as ``make test`` does and an installed
package or the scrapyd egg has them): otherwise, with PYTHONDONTWRITEBYTECODE,
every crawl would compile the whole package at start while the plain spider is
one small file.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench import OURS, markdown, run_program, write_section  # noqa: E402
from benchmarks.startup import bytecode  # noqa: E402
from booksscraper.sandbox.testing import running_sandbox  # noqa: E402

PLAIN = "plain_scrapy"
MARKER = "per-page"
# Plain Scrapy's settings beyond the baseline's own: the same pages as ours.
PLAIN_SETTINGS = ["ROBOTSTXT_OBEY=True"]


def measure(books: int, latency: int, repeats: int) -> dict[str, list[dict]]:
    for package in ("booksscraper", "benchmarks"):
        compileall.compile_dir(REPO / package, quiet=1, workers=0)
    runs: dict[str, list[dict]] = {PLAIN: [], OURS: [], "load": [os.getloadavg()[0]]}
    with running_sandbox(books=books, seed=1, latency_ms=latency) as sandbox:
        for repeat in range(repeats):
            # Alternate who goes first, so neither always runs on a warmer machine.
            order = [PLAIN, OURS] if repeat % 2 == 0 else [OURS, PLAIN]
            for program in order:
                print(f"[{repeat + 1}/{repeats}] {program} ...", file=sys.stderr, flush=True)
                row = run_program(program, sandbox, PLAIN_SETTINGS if program == PLAIN else [])
                if not row["correct"]:
                    raise SystemExit(f"{program}: output differs from the ground truth")
                runs[program].append(row)
    runs["load"].append(os.getloadavg()[0])
    return runs


def report(runs: dict[str, list], books: int, latency: int) -> str:
    rows = []
    for program in (PLAIN, OURS):
        samples = runs[program]
        rows.append(
            {
                "program": program,
                "pages": samples[0]["pages"],
                "peak": max(r["server_peak"] for r in samples),
                "cpu_ms": statistics.median(r["cpu_main_per_1000"] for r in samples),
                "process_s": statistics.median(r["process_seconds"] for r in samples),
                "crawl_s": statistics.median(r["crawl_seconds"] for r in samples),
            }
        )
    plain, ours = rows
    for row in rows:
        row["cpu_ratio"] = row["cpu_ms"] / plain["cpu_ms"]
        row["time_ratio"] = row["process_s"] / plain["process_s"]
    columns = [
        ("program", "{program}"),
        ("pages", "{pages}"),
        ("server peak in flight", "{peak}"),
        ("main CPU ms / page", "{cpu_ms:.2f}"),
        ("x plain", "{cpu_ratio:.3f}"),
        ("whole process s", "{process_s:.2f}"),
        ("x plain", "{time_ratio:.3f}"),
        ("crawl s", "{crawl_s:.2f}"),
    ]
    repeats = len(runs[PLAIN])
    start_load, end_load = runs["load"]
    return (
        f"### {latency} ms added latency, 16 in flight, {books} books, median of {repeats}\n\n"
        f"{markdown(columns, rows)}\n\n"
        f"Main-process CPU per page: {ours['cpu_ratio']:.3f}x plain Scrapy's (target <= 1.05);"
        f" whole-process time: {ours['time_ratio']:.3f}x (target <= 1.00). Bytecode: {bytecode()}."
        f" Load average (1 min) at the start and the end: {start_load:.1f}, {end_load:.1f}"
        f" on {os.cpu_count()} cores (other work on the machine slows both, unevenly)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", type=int, default=1000)
    parser.add_argument("--latency", type=int, default=100, help="ms added to every answer")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write", type=Path, help="update this Markdown file's section")
    args = parser.parse_args()
    body = report(measure(args.books, args.latency, args.repeats), args.books, args.latency)
    print(body, flush=True)
    if args.write:
        command_line = "python -m benchmarks.per_page " + " ".join(sys.argv[1:])
        write_section(args.write, MARKER, body, command_line)


if __name__ == "__main__":
    main()
