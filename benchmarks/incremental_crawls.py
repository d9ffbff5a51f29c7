"""A full crawl against incremental re-crawls of the same catalogue, measured in one run.

    .venv/bin/python benchmarks/incremental_crawls.py [--books 1000] [--latency-ms 0] [--repeat 1]
        [--cluster WORKERS]

One sandbox: a plain full crawl (``INCREMENTAL=False``: no HTTP cache to store; against the
next row, the feature's cost on a first run); then, into one OUTPUT_DIR, a full crawl
(nothing to compare with), a re-crawl of the unchanged catalogue, and a re-crawl after 37
books changed and 5 were added and 5 removed (POST /__config changes). Then the same with
the sandbox's validators off (every page fetched in full; the same change report). Bytes
and requests are the sandbox's own counts (``/__stats`` bytes_sent, requests_total: heads
and bodies of every page and robots.txt);
time is the crawl process's wall time, start-up included. Every change report is checked
against the sandbox's ground truth (``/__changes.jsonl``); each row says whether it matched.

``--cluster N``: the same three crawls (full, unchanged, 47 changed; validators on) by N
cluster workers on a throw-away redis-server, each crawl merged and compared by
``booksscraper.cluster.merge``; time is from the workers' start to the end of the merge.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from booksscraper.cluster.merge import merge_and_compare
from booksscraper.sandbox.testing import RunningSandbox, running_sandbox
from booksscraper.tools.cluster_run import start_worker, stop
from booksscraper.tools.redis_server import running_redis
from tests.helpers import read_lines, run_crawl

CHANGES = {"price": 15, "availability": 10, "rating": 7, "description": 5, "add": 5, "remove": 5}


def measured(sb: RunningSandbox, out: Path, *args: str) -> dict[str, Any]:
    sb.reset()
    started = time.perf_counter()
    result = run_crawl(sb.base_url, out, *args, timeout=1800)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"error: crawl failed:\n{result.stderr[-2000:]}")
    stats = sb.stats()
    return {"seconds": seconds, "bytes": stats["bytes_sent"], "requests": stats["requests_total"],
            "not_modified": stats["by_status"].get("304", 0)}


def matches(sb: RunningSandbox, out: Path, expect_changes: bool) -> str:
    if not expect_changes:
        got = read_lines(out / "changes.jsonl") if (out / "changes.jsonl").exists() else None
        return "-" if got is None else ("yes (0 changes)" if got == [] else f"NO ({len(got)})")
    truth = {json.loads(line)["upc"]: json.loads(line)
             for line in sb._call("__changes.jsonl").splitlines()}
    got = {c["upc"]: c for c in read_lines(out / "changes.jsonl")}
    ok = sorted(got) == sorted(truth) and all(
        got[u]["change"] == t["change"]
        and all(got[u]["fields"].get(k) == v for k, v in t["fields"].items())
        for u, t in truth.items())
    return f"yes ({len(truth)} changes)" if ok else f"NO ({len(got)} reported, {len(truth)} true)"


def scenario(books: int, latency: float, validators: bool, seed: int) -> list[tuple]:
    rows = []
    with running_sandbox(books=books, seed=seed, latency_ms=latency,
                         validators=validators) as sb, tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "out")
        label = "validators on" if validators else "validators off"
        plain = measured(sb, Path(tmp, "plain"), "-s", "INCREMENTAL=False")
        rows.append((f"plain full crawl, INCREMENTAL=False ({label})", plain, "-"))
        full = measured(sb, out)
        rows.append((f"full crawl ({label})", full, "-"))
        same = measured(sb, out)
        rows.append((f"re-crawl, unchanged ({label})", same, matches(sb, out, False)))
        sb.configure(changes={**CHANGES, "seed": seed})
        changed = measured(sb, out)
        rows.append((f"re-crawl, 47 changed ({label})", changed, matches(sb, out, True)))
        shutil.rmtree(out, ignore_errors=True)
    return rows


def measured_cluster(sb: RunningSandbox, redis_url: str, out: Path, workers: int,
                     crawl: int) -> dict[str, Any]:
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter("books:*"):  # a new crawl; the page cache stays
        client.delete(key)
    client.close()
    sb.reset()
    dirs = [out.parent / f"crawl{crawl}" / f"worker-{i + 1}" for i in range(workers)]
    started = time.perf_counter()
    procs = [start_worker(redis_url, sb.base_url, d, "-s", "CLUSTER_IDLE_BEFORE_CLOSE=1")
             for d in dirs]
    try:
        codes = [proc.wait(1800) for proc in procs]
    finally:
        for proc in procs:
            stop(proc)
    # 1: a worker that found no page left (the others leased them all): not a failure here.
    if any(code not in (0, 1) for code in codes):
        raise SystemExit(f"error: cluster workers exited {codes} (logs in {dirs})")
    merge_and_compare(out / "books.json", dirs, out / "incremental")
    seconds = time.perf_counter() - started
    stats = sb.stats()
    return {"seconds": seconds, "bytes": stats["bytes_sent"], "requests": stats["requests_total"],
            "not_modified": stats["by_status"].get("304", 0)}


def cluster_scenario(books: int, latency: float, workers: int, seed: int) -> list[tuple]:
    rows = []
    with running_sandbox(books=books, seed=seed, latency_ms=latency) as sb, \
            running_redis() as server, tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "merged")
        label = f"{workers} cluster workers"
        rows.append((f"full crawl ({label})", measured_cluster(sb, server.url, out, workers, 0),
                     "-"))
        same = measured_cluster(sb, server.url, out, workers, 1)
        rows.append((f"re-crawl, unchanged ({label})", same, matches(sb, out, False)))
        sb.configure(changes={**CHANGES, "seed": seed})
        changed = measured_cluster(sb, server.url, out, workers, 2)
        rows.append((f"re-crawl, 47 changed ({label})", changed, matches(sb, out, True)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each scenario (medians)")
    parser.add_argument("--cluster", type=int, default=0, metavar="WORKERS",
                        help="measure a cluster of this many workers instead")
    args = parser.parse_args()
    if args.cluster:
        groups = 1
        runs = [cluster_scenario(args.books, args.latency_ms, args.cluster, seed=19 + i)
                for i in range(args.repeat)]
    else:
        groups = 2
        runs = [scenario(args.books, args.latency_ms, v, seed=19 + i)
                for i in range(args.repeat) for v in (True, False)]
    print(f"{args.books} books, {args.latency_ms:g} ms added latency, {args.repeat} run(s) "
          f"(medians); Python {platform.python_version()}, {platform.machine()}")
    print()
    print("| crawl | time (s) | bytes sent by the site | requests | 304s | bytes vs first full "
          "| report matches the truth |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for group in range(groups):
        per_row = list(zip(*[r for i, r in enumerate(runs) if i % groups == group], strict=True))
        full = 0 if args.cluster else 1  # the first full crawl with incremental on
        full_bytes = statistics.median(r[1]["bytes"] for r in per_row[full])
        for rows in per_row:
            name = rows[0][0]
            med = {k: statistics.median(r[1][k] for r in rows) for k in rows[0][1]}
            print(f"| {name} | {med['seconds']:.1f} | {med['bytes']:,.0f} | "
                  f"{med['requests']:.0f} | {med['not_modified']:.0f} | "
                  f"{med['bytes'] / full_bytes:.1%} | {', '.join(r[2] for r in rows)} |")


if __name__ == "__main__":
    main()
