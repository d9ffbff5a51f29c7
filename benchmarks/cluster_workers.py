"""Cluster throughput with 1, 2 and 3 workers when the site, not politeness, is the limit.

    .venv/bin/python benchmarks/cluster_workers.py [--books 500] [--latency-ms 200]
        [--concurrency 8] [--workers 1 2 3]

One sandbox with latency (so the crawl is I/O bound: each worker is capped by
its CONCURRENT_REQUESTS, not by CPU) and one redis-server for the whole run; a
fresh Redis database and sandbox counters per cluster size. Throughput is the
sandbox's request count over the time between the first and the last request
it saw (startup and the idle wait before closing are excluded; the wall time
including them is printed too). Ratios are against 1 worker in the same run.
No shared rate limit in these runs; one last run with the most workers and
``--limited-rps`` (CLUSTER_MAX_RPS_PER_DOMAIN) shows the limit holding: its
peak/s column is the sandbox's busiest 1-second window. Every merged output
is checked against the ground truth.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis

from booksscraper.cluster.merge import merge
from booksscraper.sandbox.testing import running_sandbox
from booksscraper.tools.cluster_run import start_worker, stop
from booksscraper.tools.redis_server import running_redis
from booksscraper.tools.truth import differences


def run_cluster(
    redis_url: str, sandbox, workers: int, concurrency: int, tmp: Path, max_rps: float = 0
) -> dict:
    redis.Redis.from_url(redis_url).flushdb()
    sandbox.reset()
    name = f"n{workers}-rps{max_rps:g}"
    dirs = [tmp / f"{name}-w{i}" for i in range(workers)]
    args = ("-s", f"CONCURRENT_REQUESTS={concurrency}", "-s", "CLUSTER_IDLE_BEFORE_CLOSE=1",
            "-s", "LOG_LEVEL=INFO", "-s", f"CLUSTER_MAX_RPS_PER_DOMAIN={max_rps:g}")
    started = time.monotonic()
    procs = [start_worker(redis_url, sandbox.base_url, d, *args) for d in dirs]
    try:
        codes = [p.wait(600) for p in procs]
    finally:
        for p in procs:
            stop(p)
    wall = time.monotonic() - started
    client = sandbox.stats()["by_ip"]["127.0.0.1"]
    merge(tmp / f"{name}.json", dirs)
    books = json.loads((tmp / f"{name}.json").read_text(encoding="utf-8"))
    return {
        "workers": workers,
        "max_rps": max_rps,
        "peak_rps": client["peak_rps"],
        "codes": codes,
        "requests": client["count"],
        "crawl_s": client["last"] - client["first"],
        "wall_s": wall,
        "problems": differences(books, sandbox.truth()),
        "books": len(books),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", type=int, default=500)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--concurrency", type=int, default=8, help="CONCURRENT_REQUESTS per worker")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--limited-rps", type=float, default=50.0,
                        help="one more run, with the most workers and this shared limit (0 = skip)")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    print(f"sandbox: {args.books} books, latency {args.latency_ms:g} ms; "
          f"CONCURRENT_REQUESTS={args.concurrency} per worker")
    results = []
    with tempfile.TemporaryDirectory(prefix="cluster-bench-") as tmp, running_redis() as server, \
            running_sandbox(books=args.books, seed=11, latency_ms=args.latency_ms) as sandbox:
        for n in args.workers:
            results.append(run_cluster(server.url, sandbox, n, args.concurrency, Path(tmp)))
        if args.limited_rps:
            results.append(run_cluster(server.url, sandbox, max(args.workers), args.concurrency,
                                       Path(tmp), args.limited_rps))
    base = results[0]["requests"] / results[0]["crawl_s"]
    print(f"{'workers':>7} {'limit/s':>7} {'requests':>8} {'crawl s':>8} {'req/s':>7} "
          f"{'ratio':>6} {'peak/s':>6} {'wall s':>7}  output")
    ok = True
    for r in results:
        rate = r["requests"] / r["crawl_s"]
        good = not r["problems"] and all(c == 0 for c in r["codes"])
        ok &= good
        verdict = (f"{r['books']} books, exact" if good
                   else f"WRONG: {r['problems'][:3]} {r['codes']}")
        limit = f"{r['max_rps']:g}" if r["max_rps"] else "-"
        print(f"{r['workers']:>7} {limit:>7} {r['requests']:>8} {r['crawl_s']:>8.2f} "
              f"{rate:>7.1f} {rate / base:>5.2f}x {r['peak_rps']:>6} {r['wall_s']:>7.1f}"
              f"  {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
