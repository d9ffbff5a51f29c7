"""This tree against an earlier commit, crawl by crawl, alternating, in one run.

    .venv/bin/python -m benchmarks.ab --base REV [--books 1000] [--repeats 5] [--set NAME=VALUE]

``git archive REV`` is unpacked in a temporary folder; the same sandbox (this tree's)
is crawled by booksscraper from each tree in turn (base, this, this, base...), as
``make bench`` crawls it in scenario A (16 in flight, no added latency). On a shared
machine load comes and goes: alternating gives both trees the same share of it.
Reported: the median of each measure and this tree's ratio to the base.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import bench
from booksscraper.sandbox.testing import running_sandbox

MEASURES = (("crawl s", "crawl_seconds"), ("main CPU s / 1000 pages", "cpu_main_per_1000"),
            ("peak RSS main MiB", "rss_main_mib"), ("peak RSS tree MiB", "rss_tree_mib"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True)
    parser.add_argument("--books", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--set", dest="settings", action="append", default=[])
    args = parser.parse_args()
    extra = [arg for setting in args.settings for arg in ("-s", setting)]
    here = bench.REPO
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, text=True,
                          capture_output=True, check=True).stdout.strip()
    print(f"command: python -m benchmarks.ab {' '.join(sys.argv[1:])} (this tree: {head}"
          f"{' + uncommitted changes' if _dirty(here) else ''})")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f} at the start")
    results: dict[str, list[dict]] = {"base": [], "this": []}
    with tempfile.TemporaryDirectory(prefix="ab-base-") as tmp:
        base = Path(tmp)
        archive = subprocess.run(["git", "archive", args.base], cwd=here, capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
        # One harness for both trees (only the crawled code differs): an older tree's own
        # measure.py may not run there (its benchmarks/ held a module named like a package).
        shutil.copy(here / "benchmarks" / "measure.py", base / "benchmarks" / "measure.py")
        # Both trees' bytecode compiled alike (PYTHONDONTWRITEBYTECODE would leave one
        # compiling its modules at every start), as `make venv` / `make test` do.
        for tree in (base, here):
            subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0",
                            str(tree / "booksscraper")], check=True, stdout=subprocess.DEVNULL)
        with running_sandbox(books=args.books, seed=1) as sandbox:
            for repeat in range(args.repeats):
                pair = (("base", base), ("this", here))
                # Which goes first alternates too: the first crawl of a pair warms the
                # sandbox (and the page cache) for the second.
                for name, tree in pair if repeat % 2 == 0 else pair[::-1]:
                    bench.REPO = tree
                    row = bench.run_program(bench.OURS, sandbox, extra)
                    assert not row.get("problems"), row.get("problems")
                    results[name].append(row)
        bench.REPO = here
    print(f"load average {os.getloadavg()[0]:.2f} at the end; medians of {args.repeats} "
          f"crawls of {args.books} books each:")
    print(f"{'measure':26} {'base ' + args.base:>14} {'this':>10} {'this / base':>12}")
    for label, key in MEASURES:
        b = statistics.median(r[key] for r in results["base"])
        t = statistics.median(r[key] for r in results["this"])
        print(f"{label:26} {b:14.2f} {t:10.2f} {t / b:12.3f}")


def _dirty(tree: Path) -> bool:
    return bool(subprocess.run(["git", "status", "--porcelain"], cwd=tree, text=True,
                               capture_output=True, check=True).stdout.strip())


if __name__ == "__main__":
    main()
