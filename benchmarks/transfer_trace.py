"""Where scenario B's time goes: a traced booksscraper crawl at 100 ms latency.

    python -m benchmarks.transfer_trace [--books 1000] [--latency-ms 100] [--set NAME=VALUE]

Runs one ``scrapy crawl books`` (the bench's command: 32 requests in the
engine, 16 per domain) against a sandbox with added latency, records every
transfer (benchmarks/tracing/transfers.py) and prints: responses per 100 ms
(a 0 is a round with every connection idle), the mean transfer time against
the server's latency, the refill gap (from a connection's response to its
next request), how busy the 16 connections were, and the crawl's time
against the Little's-law bound.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench import CONCURRENCY, OURS  # noqa: E402
from benchmarks.bench import command as bench_command  # noqa: E402
from booksscraper.sandbox.testing import running_sandbox  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--set", dest="settings", action="append", default=[])
    args = parser.parse_args()
    with running_sandbox(books=args.books, seed=1, latency_ms=args.latency_ms) as sandbox, \
            tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp, "transfers.json")
        extra = [
            "-s", 'EXTENSIONS={"benchmarks.tracing.transfers.TransferTrace": 0}',
            "-s", f"TRANSFER_TRACE_FILE={trace}",
            *[arg for setting in args.settings for arg in ("-s", setting)],
        ]
        command = [sys.executable, *bench_command(OURS, sandbox.base_url, Path(tmp), extra)]
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"crawl failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
        transfers = sorted(json.loads(trace.read_text()))
        elapsed = json.loads(Path(tmp, "stats.json").read_text())["elapsed_time_seconds"]
    latency = args.latency_ms / 1000
    ends = sorted(end for _, end in transfers)
    starts = [start for start, _ in transfers]
    buckets = Counter(int(end / 0.1) for end in ends)
    print("responses per 100 ms:", " ".join(str(buckets[i]) for i in range(max(buckets) + 1)))
    durations = [end - start for start, end in transfers]
    print(f"transfers: {len(transfers)}, mean {1000 * sum(durations) / len(durations):.1f} ms"
          f" for {args.latency_ms:.0f} ms of server latency")
    # robots.txt and page 1 go alone; after them the k-th start beyond the first
    # CONCURRENCY took the connection that the k-th end freed.
    gaps = sorted(s - e for s, e in zip(starts[2 + CONCURRENCY:], ends[2:], strict=False))
    print(f"refill gap: median {1000 * gaps[len(gaps) // 2]:.1f} ms,"
          f" mean {1000 * sum(gaps) / len(gaps):.1f} ms")
    span = ends[-1] - starts[2]  # from the first book/listing transfer (after robots, page 1)
    print(f"connections busy {sum(durations[2:]) / (CONCURRENCY * span):.1%} of the main phase"
          f" ({starts[2]:.2f} s to {ends[-1]:.2f} s)")
    bound = len(transfers) * latency / CONCURRENCY
    print(f"crawl {elapsed:.2f} s = {elapsed / bound:.3f}x the Little's-law bound {bound:.2f} s")


if __name__ == "__main__":
    main()
