"""What keeping the near-duplicate index across JOBDIR runs costs, in one run.

    .venv/bin/python benchmarks/near_duplicates.py [--books 20000]

N random signatures added to a ``NearDuplicateIndex`` alone (one process, the index as
it was) and with a ``SignatureStore`` in a temporary JOBDIR (each signature also written
to SQLite); then the resume's replay: the stored signatures read back into a new index.
Reported: microseconds a book for each (best of 3), the replay's seconds, bytes a book on
disk. The memory of the index is the same either way (the store is on disk).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import tempfile
import time
from pathlib import Path

from booksscraper.cleanup.signature import NUM_PERM, NearDuplicateIndex, SignatureStore

REPEATS = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", type=int, default=20_000)
    args = parser.parse_args()
    print(f"command: .venv/bin/python benchmarks/near_duplicates.py --books {args.books}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f}")
    rng = random.Random(16)
    books = [(f"http://books.test/catalogue/book_{i}/index.html", rng.randbytes(4 * NUM_PERM))
             for i in range(args.books)]
    alone = with_store = replay = math.inf
    for _ in range(REPEATS):
        index = NearDuplicateIndex()
        started = time.perf_counter()
        for key, signature in books:
            index.add(key, signature)
        alone = min(alone, time.perf_counter() - started)
        index.close()
        with tempfile.TemporaryDirectory() as jobdir:
            index, store = NearDuplicateIndex(), SignatureStore(Path(jobdir))
            started = time.perf_counter()
            for key, signature in books:
                index.add(key, signature)
                store.put(key, signature)
            with_store = min(with_store, time.perf_counter() - started)
            index.close()
            store.close()
            size = sum(f.stat().st_size for f in Path(jobdir).iterdir())
            store, index = SignatureStore(Path(jobdir)), NearDuplicateIndex()
            started = time.perf_counter()
            for key, signature in store:
                index.add(key, signature)
            replay = min(replay, time.perf_counter() - started)
            index.close()
            store.close()
    per = 1e6 / args.books
    print(f"index alone:        {alone * per:7.1f} us a book")
    print(f"index + SQLite:     {with_store * per:7.1f} us a book "
          f"({with_store / alone:.2f}x; +{(with_store - alone) * per:.1f} us)")
    print(f"replay on resume:   {replay:7.2f} s for {args.books:,} books")
    print(f"on disk:            {size / args.books:7.0f} bytes a book")


if __name__ == "__main__":
    main()
