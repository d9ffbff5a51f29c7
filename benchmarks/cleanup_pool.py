"""Cleanup on a process pool against cleanup inline: throughput, event-loop lag, overheads.

    .venv/bin/python benchmarks/cleanup_pool.py [--items 600] [--light-items 3000]
        [--extra-work 100] [--repeats 3] [--no-crawl]

What it runs, all in this one run (figures are only ever compared within it):

1. The real ``CleanupPipeline`` over N spider-like items (sandbox catalogue, descriptions
   as the pages show them) in an asyncio loop, for CLEANUP_WORKERS = 0 (inline), 1, 2, 3,
   with heavy cleanup (``CLEANUP_EXTRA_WORK``) and with the default light cleanup. Items
   are handed over 8 at a time, as Scrapy's scraper hands over the items of the responses
   that completed in one loop iteration. Reported: wall time (median of the repeats),
   items/s, speed-up against inline, the main process's CPU time per item (what cleanup
   costs the reactor's process: all of it inline; pickling and results with a pool), and
   the workers' CPU time per item (main + workers against inline: the pool's CPU
   overhead, which load from other processes does not distort the way it distorts wall
   time), and the event-loop lag: a 10 ms asyncio timer measuring how late it fires.
2. Batching: the same pool with CLEANUP_BATCH_SIZE=1 (one pool task per item) against
   the default batch size.
3. Pool start-up per start method, each in a fresh interpreter: from creating the pool to
   the first result (the forkserver, when used, starts then too).
4. (unless --no-crawl) Real ``scrapy crawl books`` runs against a local sandbox (1000
   books): light cleanup inline against the default pool, heavy cleanup for 0..3
   workers; the crawl's own elapsed_time_seconds. This is the honest figure for "pool
   overhead on a light crawl": the pipeline benchmark above feeds items far faster than
   any crawl produces them.

The machine may be shared: the load average is printed before and after, and each figure
is the median of --repeats runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psutil  # noqa: E402
from scrapy.utils.test import get_crawler  # noqa: E402

from booksscraper.items import BookItem  # noqa: E402
from booksscraper.pipelines.cleanup import CleanupPipeline, usable_cpus  # noqa: E402
from booksscraper.sandbox.catalogue import Catalogue  # noqa: E402

HANDOVER = 8  # items handed to the pipeline per loop iteration
PROBE_INTERVAL = 0.010


def make_items(count: int) -> list[BookItem]:
    from decimal import Decimal

    catalogue = Catalogue(books=count, seed=7)
    items = []
    for book_id in range(1, count + 1):
        book = catalogue.book(book_id)
        price = Decimal(book.price)
        items.append(BookItem(url=f"http://127.0.0.1/{book.path}", book_id=book_id,
                              upc=book.upc, title=book.title, price=price,
                              price_excl_tax=price, price_incl_tax=price,
                              tax=Decimal("0.00"), currency="GBP",
                              description=book.description_raw))
    return items


async def _probe(lags: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(PROBE_INTERVAL)
        lags.append(max(0.0, loop.time() - before - PROBE_INTERVAL))


async def _run_pipeline(settings: dict[str, Any], items: list[BookItem]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as out:
        crawler = get_crawler(settings_dict={"OUTPUT_DIR": out, **settings})
        pipeline = CleanupPipeline.from_crawler(crawler)
        await pipeline.open_spider()
        workers: list[psutil.Process] = []
        if pipeline.pool is not None:  # start-up is measured on its own (part 3)
            await pipeline.pool.warm_up()
            workers = [psutil.Process(pid) for pid in pipeline.pool.worker_pids()]
        workers_cpu = _cpu_seconds(workers)
        lags: list[float] = []
        stop = asyncio.Event()
        probe = asyncio.ensure_future(_probe(lags, stop))
        cpu, wall = time.process_time(), time.perf_counter()
        tasks = []
        for start in range(0, len(items), HANDOVER):
            tasks += [asyncio.ensure_future(pipeline.process_item(item))
                      for item in items[start : start + HANDOVER]]
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        workers_cpu = _cpu_seconds(workers) - workers_cpu
        stop.set()
        await probe
        await pipeline.close_spider()
    lags.sort()
    return {
        "wall": wall,
        "cpu_ms_per_item": cpu / len(items) * 1000,
        "workers_cpu_ms_per_item": workers_cpu / len(items) * 1000,
        "lag_max_ms": lags[-1] * 1000 if lags else 0.0,
        "lag_p99_ms": lags[int(len(lags) * 0.99)] * 1000 if lags else 0.0,
    }


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:  # a worker that was replaced: its CPU is not counted
            continue
        total += times.user + times.system
    return total


def measure(settings: dict[str, Any], items: list[BookItem], repeats: int) -> dict[str, float]:
    runs = [asyncio.run(_run_pipeline(settings, make_fresh(items))) for _ in range(repeats)]
    median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    median["lag_max_ms"] = max(run["lag_max_ms"] for run in runs)  # worst, not typical
    median["items_per_s"] = len(items) / median["wall"]
    return median


def make_fresh(items: list[BookItem]) -> list[BookItem]:
    # Cleanup writes into items: every run starts from the spider's version.
    return [BookItem(**{**item.__dict__}) for item in items]


def table(title: str, rows: list[tuple[str, dict[str, float]]], base: dict[str, float]) -> None:
    print(f"\n{title}")
    print("| config | wall s | items/s | vs inline | main CPU ms/item | workers CPU ms/item "
          "| lag p99 ms | lag max ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r in rows:
        print(f"| {name} | {r['wall']:.2f} | {r['items_per_s']:.0f} | "
              f"{base['wall'] / r['wall']:.2f}x | {r['cpu_ms_per_item']:.3f} | "
              f"{r['workers_cpu_ms_per_item']:.3f} | "
              f"{r['lag_p99_ms']:.1f} | {r['lag_max_ms']:.1f} |")


def startup_probe(method: str, workers: int) -> None:
    """Run in a fresh interpreter: seconds from creating a pool to all workers answering."""
    from booksscraper.pipelines.pool import BatchPool

    async def main() -> float:
        begin = time.perf_counter()
        pool = BatchPool(len, workers=workers, start_method=method,
                         preload=("booksscraper.cleanup",))
        pool.start()
        await pool.warm_up()
        elapsed = time.perf_counter() - begin
        await pool.close()
        return elapsed

    print(json.dumps(asyncio.run(main())))


def startup_costs(workers: int, repeats: int) -> None:
    print(f"\nPool start-up until every worker answers ({workers} workers, fresh interpreter, "
          f"median of {repeats})")
    print("| start method | seconds |")
    print("| --- | ---: |")
    for method in ("forkserver", "spawn", "fork"):
        times = []
        for _ in range(repeats):
            out = subprocess.run([sys.executable, __file__, "--startup-probe", method,
                                  "--workers", str(workers)], capture_output=True, text=True,
                                 check=True, cwd=REPO)
            times.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"| {method} | {statistics.median(times):.3f} |")


def crawl_seconds(base_url: str, workers: int, extra_work: int) -> float:
    with tempfile.TemporaryDirectory() as out:
        run = subprocess.run(
            [sys.executable, "-m", "scrapy", "crawl", "books", "-a", f"start_url={base_url}",
             "-s", f"OUTPUT_DIR={out}", "-s", f"CLEANUP_WORKERS={workers}",
             "-s", f"CLEANUP_EXTRA_WORK={extra_work}", "-s", "LOG_LEVEL=INFO"],
            capture_output=True, text=True, cwd=REPO, check=False,
        )
    found = re.search(r"'elapsed_time_seconds': ([0-9.]+)", run.stderr)
    if run.returncode != 0 or not found or "'cleanup/items': 1000" not in run.stderr:
        raise SystemExit(f"crawl failed (exit {run.returncode}):\n{run.stderr[-2000:]}")
    return float(found.group(1))


def crawl_comparison(repeats: int, extra_work: int) -> None:
    from booksscraper.sandbox.testing import running_sandbox

    default = usable_cpus()
    runs = [("light", 0, 0), ("light", default, 0)]
    runs += [("heavy", workers, extra_work) for workers in (0, 1, 2, 3)]
    times: dict[tuple[str, int, int], list[float]] = {run: [] for run in runs}
    with running_sandbox(books=1000, seed=7) as sandbox:
        for _ in range(repeats):  # alternating, so load changes hit every config alike
            for kind, workers, work in runs:
                times[kind, workers, work].append(crawl_seconds(sandbox.base_url, workers, work))
    print(f"\nReal crawls of 1000 books (scrapy crawl books, local sandbox), "
          f"elapsed_time_seconds, median of {repeats}")
    print("| cleanup | CLEANUP_WORKERS | crawl s | vs inline | runs |")
    print("| --- | ---: | ---: | ---: | --- |")
    for (kind, workers, work), values in times.items():
        inline = statistics.median(times[kind, 0, work])
        median = statistics.median(values)
        label = kind if not work else f"{kind} (EXTRA_WORK={work})"
        print(f"| {label} | {workers} | {median:.2f} | {inline / median:.2f}x | "
              f"{', '.join(f'{v:.2f}' for v in values)} |")
    light_inline = statistics.median(times["light", 0, 0])
    light_pool = statistics.median(times["light", default, 0])
    print(f"pool overhead on a light crawl: {(light_pool / light_inline - 1) * 100:+.1f}% "
          "(negative: the pool is faster)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=600, help="items of the heavy runs")
    ap.add_argument("--light-items", type=int, default=3000, help="items of the light runs")
    ap.add_argument("--extra-work", type=int, default=100, help="CLEANUP_EXTRA_WORK of heavy")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-crawl", action="store_true", help="skip the real crawls")
    ap.add_argument("--startup-probe", help=argparse.SUPPRESS)
    ap.add_argument("--workers", type=int, default=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.startup_probe:
        startup_probe(args.startup_probe, args.workers)
        return 0

    print("command: " + " ".join([Path(sys.executable).name, *sys.argv]))
    print(f"machine: {platform.platform()}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs ({usable_cpus()} usable), "
          f"load average before {os.getloadavg()[0]:.2f}")

    heavy_items = make_items(args.items)
    heavy = {"CLEANUP_EXTRA_WORK": args.extra_work}
    rows = [(f"workers={w}" if w else "inline (0)", measure({**heavy, "CLEANUP_WORKERS": w},
                                                             heavy_items, args.repeats))
            for w in (0, 1, 2, 3)]
    table(f"Heavy cleanup (CLEANUP_EXTRA_WORK={args.extra_work}), {args.items} items, "
          f"median of {args.repeats}", rows, rows[0][1])

    light_items = make_items(args.light_items)
    light_rows = [(f"workers={w}" if w else "inline (0)",
                   measure({"CLEANUP_WORKERS": w}, light_items, args.repeats))
                  for w in (0, 1, 2, 3)]
    table(f"Light cleanup (default), {args.light_items} items, median of {args.repeats}",
          light_rows, light_rows[0][1])

    per_item = measure({"CLEANUP_WORKERS": 2, "CLEANUP_BATCH_SIZE": 1,
                        "CLEANUP_MAX_IN_FLIGHT": 1000}, light_items, args.repeats)
    table("Batching: light cleanup, 2 workers, one pool task per item vs batches of 25",
          [("batch size 1", per_item), ("batch size 25 (default)", light_rows[2][1])],
          light_rows[0][1])
    print(f"main CPU per item, batch 1 / batch 25: "
          f"{per_item['cpu_ms_per_item'] / light_rows[2][1]['cpu_ms_per_item']:.1f}x")

    startup_costs(workers=2, repeats=args.repeats)
    if not args.no_crawl:
        crawl_comparison(args.repeats, args.extra_work)
    print(f"\nload average after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
