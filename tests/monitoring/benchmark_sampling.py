"""What one resource sample costs, to justify MONITOR_INTERVAL's default.

    .venv/bin/python -m tests.monitoring.benchmark_sampling [--children N] [--samples N]

Measures ``ProcessTreeSampler.sample()`` on this process with N live child
processes (as the cleanup pool has), against a baseline measured in the same
run: one bare ``psutil.Process().memory_info()`` call, the least any monitor
does. Prints the cost per sample and the share of one core it takes at 1 s.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import psutil

from booksscraper.extensions.monitor import ProcessTreeSampler


def per_call(function, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=2, help="child processes (default 2)")
    parser.add_argument("--samples", type=int, default=300, help="samples timed (default 300)")
    args = parser.parse_args()
    children = [
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        for _ in range(args.children)
    ]
    try:
        sampler = ProcessTreeSampler()
        sampler.sample()  # warm up: psutil objects created, /proc pages cached
        process = psutil.Process()
        baseline = per_call(process.memory_info, args.samples)
        sample = per_call(sampler.sample, args.samples)
    finally:
        for child in children:
            child.kill()
            child.wait()
    print(f"children: {args.children}, samples timed: {args.samples}")
    print(f"baseline memory_info(): {baseline * 1e6:8.1f} us")
    print(f"full sample:            {sample * 1e6:8.1f} us  ({sample / baseline:.0f}x baseline)")
    for interval in (0.2, 1.0, 60.0):
        print(f"share of one core at MONITOR_INTERVAL={interval:g}: {sample / interval:.3%}")


if __name__ == "__main__":
    main()
