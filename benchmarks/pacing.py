"""Per-site pacing through proxies and workers, and the pause a killed worker causes.

    .venv/bin/python benchmarks/pacing.py [--rate 6] [--books 60] [--proxies 1 3 6]
        [--workers 1 3] [--kill-books 1000]

Part 1: ``POLITENESS_MAX_RPS=--rate`` with ``CONCURRENT_REQUESTS=16`` and
``CONCURRENT_REQUESTS_PER_DOMAIN=16`` (so that only the pace holds the crawl
back), through N real tinyproxies (each ``Bind``s its own 127.0.0.N), with 1
worker (a plain crawl) or several (one redis-server, ``REDIS_URL``). The
figure is the sandbox's peak: its busiest sliding 1-second window over every
client together, i.e. what the site saw. A 1-second window holds at most
rate + 1 requests spaced 1/rate apart.

Part 2: 3 workers on one redis-server, the sandbox at 100 ms latency, 4
requests in flight per worker; one worker gets ``kill -9`` after the server
has seen 300 requests. The figure is the longest time the server received no
request from the kill to the end of the crawl (sampled every 20 ms), against
``CLUSTER_HEARTBEAT_TIMEOUT`` (4 s) and the 60 s lease a dead worker's requests
used to wait out. Every merged output is checked against the ground truth.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis

from booksscraper.cluster.merge import merge
from booksscraper.sandbox.testing import running_sandbox
from booksscraper.tools.cluster_run import start_worker, stop
from booksscraper.tools.redis_server import running_redis
from booksscraper.tools.truth import differences
from tests.helpers import crawl_command
from tests.proxies import TinyProxies

WIDE_OPEN = ["-s", "CONCURRENT_REQUESTS=16", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=16"]
QUIET = ["-s", "LOG_LEVEL=INFO", "-s", "CLUSTER_IDLE_BEFORE_CLOSE=1"]


def crawl(sandbox, redis_url: str, workers: int, args: list[str], out: Path) -> list[Path]:
    """One crawl, plain (1 worker) or a cluster; returns the output folders, checked."""
    dirs = [out / f"w{i}" for i in range(workers)]
    if workers == 1:
        dirs[0].mkdir(parents=True)
        with (dirs[0] / "crawl.log").open("w") as log:
            code = subprocess.run(
                crawl_command(sandbox.base_url, dirs[0], *args), stdout=log, stderr=log,
                cwd=Path(__file__).resolve().parents[1], check=False, timeout=600,
            ).returncode
        codes = [code]
    else:
        redis.Redis.from_url(redis_url).flushdb()
        procs = [start_worker(redis_url, sandbox.base_url, d, *QUIET, *args) for d in dirs]
        try:
            codes = [p.wait(600) for p in procs]
        finally:
            for p in procs:
                stop(p)
    merge(out / "merged.json", [d for d in dirs if (d / "books.jsonl").exists()])
    problems = differences(json.loads((out / "merged.json").read_text()), sandbox.truth())
    if any(codes) or problems:
        raise SystemExit(f"crawl failed: exit codes {codes}, {problems[:3]}")
    return dirs


def peak_rps_table(args: argparse.Namespace, tmp: Path, redis_url: str) -> list[str]:
    rows = ["| proxies | workers | configured rate | server peak req/s (1 s window) | requests |",
            "| --- | --- | --- | --- | --- |"]
    proxies = TinyProxies(tmp)
    try:
        pool = [proxies.start(f"127.0.0.{n + 2}") for n in range(max(args.proxies))]
        with running_sandbox(books=args.books, seed=15) as sb:
            for n in args.proxies:
                for workers in args.workers:
                    sb.reset()
                    crawl(sb, redis_url, workers, [
                        *WIDE_OPEN, "-s", f"POLITENESS_MAX_RPS={args.rate:g}",
                        "-s", f"ROTATING_PROXY_LIST={','.join(pool[:n])}",
                    ], tmp / f"rate-p{n}-w{workers}")
                    stats = sb.stats()
                    rows.append(f"| {n} | {workers} | {args.rate:g} | {stats['peak_rps']} |"
                                f" {stats['requests_total']} |")
                    print(rows[-1], file=sys.stderr, flush=True)
    finally:
        proxies.stop_all()
    return rows


def kill_pause(args: argparse.Namespace, tmp: Path, redis_url: str) -> list[str]:
    redis.Redis.from_url(redis_url).flushdb()
    dirs = [tmp / f"kill-w{i}" for i in range(3)]
    with running_sandbox(books=args.kill_books, seed=16, latency_ms=100) as sb:
        procs = [start_worker(redis_url, sb.base_url, d, *QUIET, "-s", "CONCURRENT_REQUESTS=4")
                 for d in dirs]
        samples: list[tuple[float, int]] = []
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                samples.append((time.monotonic(), sb.stats()["requests_total"]))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            while sb.stats()["requests_total"] < 300:
                time.sleep(0.02)
            killed_at = time.monotonic()
            procs[0].send_signal(signal.SIGKILL)
            codes = [p.wait(600) for p in procs[1:]]
        finally:
            done.set()
            sampler.join()
            for p in procs:
                stop(p)
        merge(tmp / "kill.json", [d for d in dirs if (d / "books.jsonl").exists()])
        problems = differences(json.loads((tmp / "kill.json").read_text()), sb.truth())
    if any(codes) or problems:
        raise SystemExit(f"killed-worker crawl failed: exit codes {codes}, {problems[:3]}")
    longest, last_change, last_total, end = 0.0, killed_at, None, killed_at
    for at, total in samples:
        if at < killed_at:
            continue
        if last_total is None:
            last_total = total
        elif total != last_total:
            longest = max(longest, at - last_change)
            last_change = end = at
            last_total = total
    return [
        "| workers | latency | killed after | longest server pause after the kill |"
        " kill to last request | books |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| 3 (one `kill -9`) | 100 ms | 300 requests | {longest:.1f} s |"
        f" {end - killed_at:.1f} s | {args.kill_books}, matches the ground truth |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=6.0)
    parser.add_argument("--books", type=int, default=60)
    parser.add_argument("--proxies", type=int, nargs="+", default=[1, 3, 6])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--kill-books", type=int, default=1000)
    args = parser.parse_args()
    if shutil.which("tinyproxy") is None:
        raise SystemExit("tinyproxy is not installed (make system-deps)")
    with tempfile.TemporaryDirectory(prefix="pacing-bench-") as tmp, running_redis() as server:
        rows = peak_rps_table(args, Path(tmp), server.url)
        kill = kill_pause(args, Path(tmp), server.url)
    print(f"{platform.python_implementation()} {platform.python_version()}, "
          f"{len(os.sched_getaffinity(0))} CPUs; {args.books} books, "
          f"POLITENESS_MAX_RPS={args.rate:g}, CONCURRENT_REQUESTS=16, "
          "CONCURRENT_REQUESTS_PER_DOMAIN=16\n")
    print("\n".join(rows))
    print()
    print("\n".join(kill))


if __name__ == "__main__":
    main()
