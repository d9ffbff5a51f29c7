"""How many book pages/s one sandbox process serves (no latency, no faults).

    .venv/bin/python benchmarks/sandbox_speed.py [--requests 20000] [--connections 8]

The client runs in a separate process (raw asyncio, HTTP/1.1 keep-alive, one request at a time
per connection) so it does not share the server's CPU; the server's CPU time comes from psutil.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil

from booksscraper.sandbox import Catalogue
from booksscraper.sandbox.testing import running_sandbox


async def _worker(host: str, port: int, paths: list[str], counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    for path in paths:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: bench\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        counts[0 if status == 200 else 1] += 1
    writer.close()


def _client(base_url: str, paths: list[str], connections: int, out: multiprocessing.Queue) -> None:
    parts = urlsplit(base_url)
    counts = [0, 0]

    async def main() -> float:
        start = time.perf_counter()
        await asyncio.gather(*(_worker(parts.hostname, parts.port, paths[i::connections], counts)
                               for i in range(connections)))
        return time.perf_counter() - start

    elapsed = asyncio.run(main())
    out.put((elapsed, counts))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--books", type=int, default=1000)
    args = ap.parse_args()
    print("command:", " ".join([os.path.relpath(sys.executable), *sys.argv]))
    print(f"machine: nproc={os.cpu_count()} python={platform.python_version()} "
          f"{platform.system()} {platform.machine()}")
    print(f"sandbox: {args.books} books, no latency, no faults")
    with running_sandbox(books=args.books, seed=1) as sb:
        # Paths computed in process from the same (seed, books): no need to download the truth.
        cat = Catalogue(args.books, seed=1)
        step = max(1, args.books // args.requests)
        paths = ["/" + cat.book(1 + (i * step) % args.books).path for i in range(args.requests)]
        warm = paths[:200]
        server = psutil.Process(sb.pid)
        out: multiprocessing.Queue = multiprocessing.Queue()
        for batch in (warm, paths):  # the first pass only warms up; the second is measured
            cpu0 = sum(server.cpu_times()[:2])
            proc = multiprocessing.Process(target=_client,
                                           args=(sb.base_url, batch, args.connections, out))
            proc.start()
            elapsed, (ok, bad) = out.get(timeout=600)
            proc.join()
            cpu = sum(server.cpu_times()[:2]) - cpu0
        stats = sb.stats()
    rate = ok / elapsed
    print(f"measured: {ok} book pages (non-200: {bad}) over {args.connections} keep-alive "
          f"connections in {elapsed:.2f} s")
    print(f"server CPU: {cpu:.2f} s ({100 * cpu / elapsed:.0f}% of one core), "
          f"{1e6 * cpu / max(ok, 1):.0f} us per page; server-side peak: {stats['peak_rps']} req/s")
    print(f"RESULT: {rate:,.0f} book pages/s " + ("(>= 2,000: OK)" if rate >= 2000 else
                                                  "(BELOW the 2,000 pages/s target)"))
    print(json.dumps({"pages_per_s": round(rate), "server_cpu_s": round(cpu, 2),
                      "requests": ok, "connections": args.connections}))
    return 0 if rate >= 2000 and bad == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
