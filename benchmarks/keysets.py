"""The hand-made key tables (``dedup.keyset.KeySet``) against plain Python sets, in one run.

    .venv/bin/python benchmarks/keysets.py [--sizes 1000,100000,1000000]

For each size n: n random 64-bit keys (what ``key64`` gives) added to a ``KeySet``, a
``set`` of those ints, and a ``set`` of 20-byte fingerprints (what Scrapy's
``RFPDupeFilter`` keeps). Reported per key: memory (tracemalloc: every Python allocation
the structure holds, keys included), time to add and time to test membership (half hits,
half misses), each the best of 3 runs. Ratios are against ``KeySet`` measured in the same run.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

from booksscraper.dedup.keyset import KeySet

REPEATS = 3  # timings: the best of these (the machine may be shared)


def _measure(
    build: Callable[[], Any], keys: Iterator[Any], keys_again: Iterator[Any]
) -> tuple[Any, int, float]:
    """The structure, the bytes it holds (tracemalloc) and the seconds its adds took.

    The keys are made inside the traced region, one at a time, as a crawl makes them:
    a set keeps each key object alive, a KeySet keeps only its 64 bits.
    """
    tracemalloc.start()
    traced = build()
    traced.update(keys)
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del traced
    keys_again = list(keys_again)
    seconds = math.inf
    for _ in range(REPEATS):  # timed untraced (tracemalloc slows every allocation); the best
        structure = build()
        started = time.perf_counter()
        structure.update(iter(keys_again))
        seconds = min(seconds, time.perf_counter() - started)
    return structure, size, seconds


def _lookup_seconds(structure: Any, probes: list[Any]) -> float:
    seconds = math.inf
    for _ in range(REPEATS):
        started = time.perf_counter()
        hits = sum(1 for p in probes if p in structure)
        seconds = min(seconds, time.perf_counter() - started)
    assert hits == len(probes) // 2
    return seconds


def run(n: int, rng: random.Random) -> list[tuple[str, float, float, float]]:
    raw = [rng.randbytes(8) for _ in range(n)]
    raw_out = [rng.randbytes(8) for _ in range(n // 2)]
    pad = bytes(12)

    def as_int(data: list[bytes]) -> Iterator[int]:
        return (int.from_bytes(b, "little") | 1 for b in data)

    def as_fingerprint(data: list[bytes]) -> Iterator[bytes]:
        return (b + pad for b in data)  # 20 bytes, as Scrapy's fingerprinter gives

    rows = []
    for name, build, make in (
        ("KeySet (array of 64-bit keys)", KeySet, as_int),
        ("set of int keys", set, as_int),
        ("set of 20-byte fingerprints", set, as_fingerprint),
    ):
        structure, size, add_s = _measure(build, make(raw), make(raw))
        probes = [*make(raw[: n // 2]), *make(raw_out)]
        look_s = _lookup_seconds(structure, probes)
        rows.append((name, size / n, 1e9 * add_s / n, 1e9 * look_s / len(probes)))
        del structure
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")],
                        default=[1000, 100_000, 1_000_000])
    args = parser.parse_args()
    print("command: .venv/bin/python benchmarks/keysets.py"
          + (f" --sizes {','.join(map(str, args.sizes))}" if args.sizes else ""))
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f}")
    rng = random.Random(16)
    for n in args.sizes:
        rows = run(n, rng)
        base = rows[0]
        print(f"\n{n:,} keys")
        print(f"{'structure':32} {'bytes/key':>9} {'add ns':>8} {'lookup ns':>9}  vs KeySet")
        for name, per_key, add_ns, look_ns in rows:
            print(f"{name:32} {per_key:9.1f} {add_ns:8.0f} {look_ns:9.0f}  memory "
                  f"{per_key / base[1]:.2f}x, add {add_ns / base[2]:.2f}x, "
                  f"lookup {look_ns / base[3]:.2f}x")


if __name__ == "__main__":
    main()
