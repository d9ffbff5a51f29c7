"""What the cleanup pool's crash isolation (halving a crashed batch) saves and costs.

    PYTHONPATH=. .venv/bin/python benchmarks/pool_crash.py [--items 1000] [--batch-size 25]

The same ``BatchPool`` as the pipeline (2 forkserver workers, batches of 25) runs N
payloads twice in this one run: all good, then with one payload that kills its worker
(as a segfault or the OOM killer would). Reported: payloads lost, pool rebuilds and wall
time of each. Without isolation the batch the poison was in would be lost whole
(``--batch-size`` payloads) or, retried whole, kill the pool again and again.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import time

from booksscraper.pipelines.pool import BatchPool
from tests.cleanup.jobs import die_on_poison


async def _run(payloads: list[object], batch_size: int) -> tuple[int, int, float]:
    pool = BatchPool(die_on_poison, workers=2, start_method="forkserver",
                     batch_size=batch_size, max_wait=0.01)
    pool.start()
    await pool.warm_up()
    started = time.perf_counter()
    try:
        results = await asyncio.gather(*(pool.submit(p) for p in payloads),
                                       return_exceptions=True)
    finally:
        await pool.close()
    lost = sum(isinstance(r, BaseException) for r in results)
    return lost, pool.stats.restarts, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=25)
    args = parser.parse_args()
    print(f"command: PYTHONPATH=. .venv/bin/python benchmarks/pool_crash.py --items {args.items}"
          f" --batch-size {args.batch_size}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f}")
    good: list[object] = list(range(args.items))
    poisoned = [*good[: args.items // 2], "poison", *good[args.items // 2 + 1 :]]
    for name, payloads in (("all good", good), ("one poison", poisoned)):
        lost, restarts, seconds = asyncio.run(_run(payloads, args.batch_size))
        print(f"{name:11} lost {lost} of {len(payloads)}, {restarts} pool rebuilds, "
              f"{seconds:.2f} s")


if __name__ == "__main__":
    main()
